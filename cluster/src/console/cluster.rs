//! `/console/cluster`: the nodes, their leases and which node owns each shard, as
//! `GET /v1/admin/cluster` answers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::table::{Pages, Row, Table, text};
use super::{page, signed_in};
use crate::pages::render::{Frame, Page};
use crate::server::AppState;

#[derive(Template)]
#[template(path = "console/cluster.html")]
struct ClusterPage {
    frame: Frame,
    csrf: String,
    /// This node, or nothing on a single node.
    node_id: Option<String>,
    sections: Vec<Table>,
}

impl Page for ClusterPage {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

fn rows(items: &serde_json::Value, fields: &[&str]) -> Vec<Row> {
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|item| Row { cells: fields.iter().map(|f| text(&item[*f])).collect(), actions: Vec::new() })
        .collect()
}

#[get("/console/cluster")]
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let session = match signed_in(&request, &state).await {
        Ok(session) => session,
        Err(to_sign_in) => return to_sign_in,
    };
    let view = match crate::api::cluster::answer(&state).await {
        Ok(answer) => serde_json::to_value(answer).unwrap_or_default(),
        Err(error) => {
            tracing::warn!(%error, "the console could not read the cluster");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("The store is not answering.");
        }
    };
    let sections = vec![
        Table {
            id: "nodes",
            title: "Nodes",
            headings: vec!["Node", "Address", "Live", "Shards", "Lease renewed", "Renewals"],
            rows: rows(&view["nodes"], &["nodeId", "address", "live", "shards", "renewedAt", "renewals"]),
            empty: "A single node on the embedded store: it owns every shard. Start nodes on PostgreSQL to form a cluster.",
            more: false,
            pages: Pages::default(),
        },
        Table {
            id: "shards",
            title: "Shards",
            headings: vec!["Shard", "Owner", "Epoch"],
            rows: rows(&view["shards"], &["shard", "nodeId", "epoch"]),
            empty: "No shards.",
            more: false,
            pages: Pages::default(),
        },
    ];
    let node_id = view["nodeId"].as_str().map(str::to_owned);
    page(StatusCode::OK, &ClusterPage { frame: Frame::new("Cluster"), csrf: session.csrf, node_id, sections })
}
