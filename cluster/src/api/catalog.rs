//! What a project can use: its integrations, the loaded provider plugins, its events.

use actix_web::{HttpResponse, web};
use securix_engine::model::event;
use serde::Deserialize;

use super::identity::App;
use super::problem::ApiError;
use crate::server::AppState;

pub async fn integrations(state: web::Data<AppState>, App(principal): App) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.list_integrations(&principal.project_id).await?))
}

pub async fn providers(state: web::Data<AppState>, _app: App) -> HttpResponse {
    let providers: Vec<serde_json::Value> = state
        .engine
        .plugins()
        .list()
        .into_iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id, "name": p.name, "wit": p.wit, "allowedHosts": p.allowed_hosts,
                "supportsRefresh": p.supports_refresh, "supportsRevoke": p.supports_revoke, "supportsPkce": p.supports_pkce,
            })
        })
        .collect();
    HttpResponse::Ok().json(providers)
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<String>,
    limit: Option<usize>,
}

pub async fn events(
    state: web::Data<AppState>,
    App(principal): App,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let tx = state.engine.store().begin().await.map_err(securix_engine::EngineError::from)?;
    let events = event::list(&tx, &principal.project_id, query.after.as_deref(), limit)
        .await
        .map_err(securix_engine::EngineError::from)?;
    Ok(HttpResponse::Ok().json(events))
}
