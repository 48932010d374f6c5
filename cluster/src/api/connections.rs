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
