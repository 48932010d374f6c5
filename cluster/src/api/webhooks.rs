//! Webhook endpoints (admin) and the public signing keys apps verify with.

use actix_web::{HttpResponse, get, post, web};
use securix_engine::webhooks::keyring::KeyView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::identity::{Admin, App};
use super::problem::ApiError;
use super::problem::responses::{
    BadRequest, Internal, NotFound, PayloadTooLarge, RequestTimeout, ServiceUnavailable, Unauthorized,
};
use super::views;
use crate::server::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    /// Where deliveries are POSTed (https, or loopback http when allowed).
    #[schema(format = "uri")]
    url: String,
    /// The event types to send; all when left out.
    events: Option<Vec<String>>,
}

/// A webhook endpoint, as registered.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointCreated {
    endpoint_id: String,
    #[schema(format = "uri")]
    url: String,
    /// `null`: every event type.
    #[schema(required = true)]
    events: Option<Vec<String>>,
}

/// A project's webhook signing keys.
#[derive(Serialize, ToSchema)]
pub struct WebhookKeys {
    #[schema(value_type = Vec<views::WebhookKey>)]
    keys: Vec<KeyView>,
}

/// Register a webhook endpoint.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "createWebhookEndpoint",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 201, description = "Registered", body = EndpointCreated),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[post("/v1/admin/projects/{projectId}/webhook-endpoints")]
pub async fn create_endpoint(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<EndpointBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let endpoint = state.engine.add_webhook_endpoint(&project, &body.url, body.events).await?;
    Ok(HttpResponse::Created().json(EndpointCreated {
        endpoint_id: endpoint.id,
        url: endpoint.url,
        events: endpoint.events,
    }))
}

/// The calling project's keys: its deliveries verify under these and no others.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "webhookKeys",
    security(("apiKey" = [])),
    responses(
        (status = 200, description = "The keys deliveries are signed with (`whpk_…`)", body = WebhookKeys),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[get("/v1/webhooks/keys")]
pub async fn keys(state: web::Data<AppState>, App(principal): App) -> Result<HttpResponse, ApiError> {
    let found = state.engine.webhook_keys(&principal.project_id).await?;
    Ok(HttpResponse::Ok().json(WebhookKeys { keys: found }))
}

/// A project's keys, for the operator.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "projectWebhookKeys",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The project's signing keys", body = WebhookKeys),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[get("/v1/admin/projects/{projectId}/webhook-keys")]
pub async fn project_keys(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(WebhookKeys { keys: state.engine.webhook_keys(&project).await? }))
}

/// Add a signing key to a project; its old ones sign alongside until retired.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "rotateWebhookKey",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The new key", body = views::WebhookKey),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[post("/v1/admin/projects/{projectId}/webhook-keys/rotate")]
pub async fn rotate(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.rotate_webhook_key(&project).await?))
}

/// Stop signing with a key, once receivers trust its successor.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "retireWebhookKey",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("keyId" = String, Path, description = "The key's `id`"),
    ),
    responses(
        (status = 204, description = "Retired"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/admin/projects/{projectId}/webhook-keys/{keyId}/retire")]
pub async fn retire(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    state.engine.retire_webhook_key(&project, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One event (`eventId`) or a time range (`fromMs`, `toMs`).
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedeliverBody {
    event_id: Option<String>,
    /// RFC 3339 is not parsed here: milliseconds since the epoch.
    from_ms: Option<i64>,
    /// Milliseconds since the epoch.
    to_ms: Option<i64>,
}

/// How many deliveries were queued again.
#[derive(Serialize, ToSchema)]
pub struct Redelivered {
    queued: usize,
}

/// Queues one event (`eventId`) or a time range (`fromMs`, `toMs`) for delivery again.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "redeliverEvents",
    security(("apiKey" = [])),
    responses(
        (status = 202, description = "Queued", body = Redelivered),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/events/redeliver")]
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
    Ok(HttpResponse::Accepted().json(Redelivered { queued }))
}
