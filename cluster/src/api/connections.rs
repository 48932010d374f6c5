//! `/v1/entities/{entityId}/connections`: list and revoke, never a token.

use actix_web::{HttpResponse, web};

use super::identity::App;
use super::problem::ApiError;
use crate::server::AppState;

pub async fn list(
    state: web::Data<AppState>,
    App(principal): App,
    entity: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.list_connections(&principal, &entity).await?))
}

pub async fn delete(
    state: web::Data<AppState>,
    App(principal): App,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (entity, connection) = path.into_inner();
    state.engine.delete_connection(&principal, &entity, &connection).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize)]
pub struct AuditQuery {
    limit: Option<usize>,
}

/// Every use of the entity's tokens: agent, connection, host, time; newest first.
pub async fn audit(
    state: web::Data<AppState>,
    App(principal): App,
    entity: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let trail = state.engine.audit_trail(&principal, &entity, query.limit.unwrap_or(100)).await?;
    let records: Vec<serde_json::Value> = trail
        .iter()
        .map(|r| serde_json::json!({ "at": r.at.rfc3339(), "agentId": r.agent_id, "connectionId": r.connection_id, "integration": r.integration, "method": r.method, "host": r.host }))
        .collect();
    Ok(HttpResponse::Ok().json(records))
}
