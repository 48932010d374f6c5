//! Webhook endpoints (admin) and the public signing keys apps verify with.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::identity::{Admin, App};
use super::problem::ApiError;
use crate::server::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    url: String,
    events: Option<Vec<String>>,
}

pub async fn create_endpoint(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<EndpointBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let endpoint = state.engine.add_webhook_endpoint(&project, &body.url, body.events).await?;
    Ok(HttpResponse::Created().json(
        serde_json::json!({ "endpointId": endpoint.id, "url": endpoint.url, "events": endpoint.events }),
    ))
}

/// The calling project's keys: its deliveries verify under these and no others.
pub async fn keys(state: web::Data<AppState>, App(principal): App) -> Result<HttpResponse, ApiError> {
    let keys = state.engine.webhook_keys(&principal.project_id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": keys })))
}

/// A project's keys, for the operator.
pub async fn project_keys(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": state.engine.webhook_keys(&project).await? })))
}

pub async fn rotate(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.rotate_webhook_key(&project).await?))
}

/// Stops signing with a key once receivers trust its successor.
pub async fn retire(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    state.engine.retire_webhook_key(&project, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedeliverBody {
    event_id: Option<String>,
    /// RFC 3339 is not parsed here: milliseconds since the epoch.
    from_ms: Option<i64>,
    to_ms: Option<i64>,
}

/// Queues one event (`eventId`) or a time range (`fromMs`, `toMs`) for delivery again.
pub async fn redeliver(
    state: web::Data<AppState>,
    App(principal): App,
    body: web::Json<RedeliverBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (from, to) = (
        body.from_ms.map(securix_engine::util::clock::Timestamp),
        body.to_ms.map(securix_engine::util::clock::Timestamp),
    );
    let queued = state.engine.redeliver(&principal.project_id, body.event_id.as_deref(), from, to).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "queued": queued })))
}
