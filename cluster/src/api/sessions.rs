//! `/v1/sessions`: create, read (and long-poll), confirm.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use securix_engine::flows::sessions::CreateSession;
use securix_engine::model::session::Flow;
use serde::Deserialize;

use super::identity::{AGENT_ID, App, optional_header};
use super::problem::ApiError;
use crate::server::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderScopes {
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    entity_id: String,
    flow: Flow,
    providers: BTreeMap<String, ProviderScopes>,
    sxc_challenge: Option<String>,
    origin: Option<String>,
    /// Seconds.
    expires_in: Option<u64>,
    agent_id: Option<String>,
}

pub async fn create(
    state: web::Data<AppState>,
    App(principal): App,
    request: HttpRequest,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let agent_id = optional_header(&request, AGENT_ID)
        .or(body.agent_id)
        .ok_or_else(|| ApiError::bad_request("the securix-agent-id header is required"))?;
    let create = CreateSession {
        agent_id,
        entity_id: body.entity_id,
        flow: Some(body.flow),
        providers: body.providers.into_iter().map(|(key, p)| (key, p.scopes)).collect(),
        sxc_challenge: body.sxc_challenge,
        origin: body.origin,
        expires_in: body.expires_in.map(Duration::from_secs),
    };
    let created = state.engine.create_session(&principal, create).await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize)]
pub struct WaitQuery {
    wait: Option<u64>,
}

pub async fn get(
    state: web::Data<AppState>,
    App(principal): App,
    id: web::Path<String>,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse, ApiError> {
    let wait = query.wait.map(|secs| Duration::from_secs(secs.min(60)));
    let view = state.engine.session_status(&principal, &id, wait).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    sxc: String,
}

pub async fn confirm(
    state: web::Data<AppState>,
    App(principal): App,
    id: web::Path<String>,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let confirmed = state.engine.confirm_session(&principal, &id, &body.sxc).await?;
    Ok(HttpResponse::Ok().json(confirmed))
}
