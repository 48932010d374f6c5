//! `/v1/admin/projects/{p}/…` views across a project: its entities, connections,
//! sessions, webhook deliveries and token uses (audit), filtered and a page at a
//! time. Never a token.

use actix_web::{HttpResponse, get, post, web};
use securix_engine::admin::{AuditFilter, ConnectionFilter, SessionFilter};
use securix_engine::model::connection::ConnectionStatus;
use securix_engine::model::page::PageRequest;
use securix_engine::model::session::{Flow, SessionStatus};
use securix_engine::webhooks::deliveries::{DeliveryFilter, DeliveryStatus};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::identity::Admin;
use super::problem::ApiError;
use super::problem::responses::{BadRequest, Internal, NotFound, Unauthorized};
use super::views;
use crate::server::AppState;

page_schema!(EntityPage, views::EntityView, "entities");

page_schema!(ProjectConnectionPage, views::ProjectConnectionView, "a project's connections");

page_schema!(SessionPage, views::AdminSessionView, "a project's sessions");

page_schema!(AuditPage, views::AuditView, "a project's token uses");

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    entity_id: Option<String>,
    integration: Option<String>,
    agent_id: Option<String>,
    /// At most this many (default 100, at most 500); a page ends where one batch of
    /// an entity's records ends, so it may hold up to one batch more.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    cursor: Option<String>,
}

page_schema!(DeliveryPage, views::DeliveryView, "a project's webhook deliveries");

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    endpoint_id: Option<String>,
    /// `pending` (to be tried again), `delivered` or `failed` (given up).
    #[param(value_type = Option<String>)]
    status: Option<DeliveryStatus>,
    event_id: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntityQuery {
    /// Entities whose id starts with this.
    q: Option<String>,
    /// At most this many (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// `nextCursor` of the page before.
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConnectionQuery {
    integration: Option<String>,
    /// `active`, `reauth_required` or `revoked`.
    #[param(value_type = Option<String>)]
    status: Option<ConnectionStatus>,
    entity_id: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// `pending`, `authorizing`, `awaiting_confirmation`, `completed`, `denied`, `expired` or `failed`.
    #[param(value_type = Option<String>)]
    status: Option<SessionStatus>,
    /// `popup` or `device`.
    #[param(value_type = Option<String>)]
    flow: Option<Flow>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A project's entities, in id order.
#[utoipa::path(
    tag = "admin",
    operation_id = "listEntities",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), EntityQuery),
    responses(
        (status = 200, description = "A page of entities", body = EntityPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/entities")]
pub async fn entities(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<EntityQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = PageRequest { limit: query.limit, cursor: query.cursor };
    Ok(HttpResponse::Ok().json(state.engine.list_entities(&project, query.q.as_deref(), &request).await?))
}

/// A project's connections, by entity, as the filters pick them (never a token).
#[utoipa::path(
    tag = "admin",
    operation_id = "listProjectConnections",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), ConnectionQuery),
    responses(
        (status = 200, description = "A page of connections", body = ProjectConnectionPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/connections")]
pub async fn connections(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<ConnectionQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter =
        ConnectionFilter { integration: query.integration, status: query.status, entity_id: query.entity_id };
    let request = PageRequest { limit: query.limit, cursor: query.cursor };
    Ok(HttpResponse::Ok().json(state.engine.list_project_connections(&project, &filter, &request).await?))
}

/// A project's sessions, newest first, and why those that failed did.
#[utoipa::path(
    tag = "admin",
    operation_id = "listSessions",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), SessionQuery),
    responses(
        (status = 200, description = "A page of sessions", body = SessionPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/sessions")]
pub async fn sessions(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<SessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = SessionFilter { status: query.status, flow: query.flow };
    let request = PageRequest { limit: query.limit, cursor: query.cursor };
    Ok(HttpResponse::Ok().json(state.engine.list_sessions(&project, &filter, &request).await?))
}

/// A delivery owed to its endpoint again.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryQueued {
    delivery_id: String,
    queued: bool,
}

/// A project's webhook delivery attempts, newest first: status, the receiver's
/// answer, latency, and when the next try is.
#[utoipa::path(
    tag = "admin",
    operation_id = "listWebhookDeliveries",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), DeliveryQuery),
    responses(
        (status = 200, description = "A page of delivery attempts", body = DeliveryPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/webhook-deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter =
        DeliveryFilter { endpoint_id: query.endpoint_id, status: query.status, event_id: query.event_id };
    let request = PageRequest { limit: query.limit, cursor: query.cursor };
    Ok(HttpResponse::Ok().json(state.engine.list_webhook_deliveries(&project, &filter, &request).await?))
}

/// Send a logged delivery's event to its endpoint again, now.
#[utoipa::path(
    tag = "admin",
    operation_id = "retryWebhookDelivery",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("deliveryId" = String, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 202, description = "Owed to the endpoint again; the next delivery round sends it", body = RetryQueued),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/admin/projects/{projectId}/webhook-deliveries/{deliveryId}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, delivery) = path.into_inner();
    state.engine.retry_webhook_delivery(&project, &delivery).await?;
    Ok(HttpResponse::Accepted().json(RetryQueued { delivery_id: delivery, queued: true }))
}

/// A project's token uses (which agent used which connection, for which host),
/// newest first.
#[utoipa::path(
    tag = "admin",
    operation_id = "listAudit",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), AuditQuery),
    responses(
        (status = 200, description = "A page of token uses", body = AuditPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter =
        AuditFilter { entity_id: query.entity_id, integration: query.integration, agent_id: query.agent_id };
    let request = PageRequest { limit: query.limit, cursor: query.cursor };
    Ok(HttpResponse::Ok().json(state.engine.list_audit(&project, &filter, &request).await?))
}
