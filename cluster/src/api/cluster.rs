//! `GET /v1/admin/cluster`: the nodes, their leases and the shards each owns. A
//! server on the embedded store is a cluster of one that owns every shard. `mesh`
//! lists the peers this node is connected to, when it runs one.

use actix_web::{HttpResponse, web};
use securix_engine::EngineError;
use securix_engine::model::keys::SHARDS;

use super::identity::Admin;
use super::problem::ApiError;
use crate::server::AppState;

pub async fn view(state: web::Data<AppState>, _: Admin) -> Result<HttpResponse, ApiError> {
    let Some(membership) = &state.membership else {
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "nodeId": null,
            "nodes": [],
            "shards": (0..SHARDS).map(|shard| serde_json::json!({ "shard": shard, "nodeId": null, "epoch": 0 })).collect::<Vec<_>>(),
            "single": true,
        })));
    };
    let cluster = membership.view().await.map_err(EngineError::from)?;
    let mesh = state.mesh.as_ref().map(|mesh| mesh.view());
    Ok(HttpResponse::Ok().json(WithMesh { cluster, mesh }))
}

/// The membership's view and, beside its fields, the mesh's.
#[derive(serde::Serialize)]
struct WithMesh {
    #[serde(flatten)]
    cluster: crate::membership::ClusterView,
    mesh: Option<crate::mesh::MeshView>,
}
