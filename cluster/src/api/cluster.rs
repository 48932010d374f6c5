//! `GET /v1/admin/cluster`: the nodes, their leases and the shards each owns. A
//! server on the embedded store is a cluster of one that owns every shard. `mesh`
//! lists the peers this node is connected to, when it runs one.

use actix_web::{HttpResponse, get, web};
use securix_engine::EngineError;
use securix_engine::model::keys::SHARDS;
use serde::Serialize;
use utoipa::ToSchema;

use super::identity::Admin;
use super::problem::ApiError;
use super::problem::responses::{Internal, Unauthorized};
use crate::server::AppState;

/// The cluster's nodes, their leases and the shards each owns.
#[utoipa::path(
    tag = "admin",
    operation_id = "clusterView",
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "The cluster as this node sees it", body = ClusterAnswer),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/cluster")]
pub async fn view(state: web::Data<AppState>, _: Admin) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(answer(&state).await?))
}

/// The cluster as this node sees it (the console shows it too).
pub async fn answer(state: &AppState) -> Result<ClusterAnswer, EngineError> {
    let Some(membership) = &state.membership else {
        return Ok(ClusterAnswer::Single(SingleNode {
            node_id: None,
            nodes: [],
            shards: (0..SHARDS).map(|shard| UnownedShard { shard, node_id: None, epoch: 0 }).collect(),
            single: true,
        }));
    };
    let cluster = membership.view().await?;
    let mesh = state.mesh.as_ref().map(|mesh| mesh.view());
    Ok(ClusterAnswer::Cluster(WithMesh { cluster, mesh }))
}

/// A node of a cluster, or a server on its own.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ClusterAnswer {
    Cluster(WithMesh),
    Single(SingleNode),
}

/// The membership's view and, beside its fields, the mesh's.
#[derive(Serialize, ToSchema)]
pub struct WithMesh {
    #[serde(flatten)]
    cluster: crate::membership::ClusterView,
    /// `null` when this node runs no mesh.
    #[schema(required = true)]
    mesh: Option<crate::mesh::MeshView>,
}

/// A server on the embedded store: a cluster of one that owns every shard.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SingleNode {
    /// Always `null`.
    #[schema(value_type = Option<String>, required = true)]
    node_id: Option<()>,
    /// Always empty.
    #[schema(value_type = Vec<crate::membership::NodeView>)]
    nodes: [(); 0],
    shards: Vec<UnownedShard>,
    /// Always `true`.
    single: bool,
}

/// A shard with no owner on record (a server on its own does all of them).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnownedShard {
    shard: u32,
    /// Always `null`.
    #[schema(value_type = Option<String>, required = true)]
    node_id: Option<()>,
    /// Always 0.
    epoch: u64,
}
