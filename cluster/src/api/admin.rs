//! `/v1/admin/…`: what an operator does, behind the admin token.

use actix_web::{HttpResponse, web};
use securix_engine::model::integration::IntegrationDraft;
use securix_engine::util::secret::SecretString;
use serde::Deserialize;

use super::identity::Admin;
use super::problem::ApiError;
use crate::server::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    name: String,
}

pub async fn create_project(
    state: web::Data<AppState>,
    _: Admin,
    body: web::Json<NameBody>,
) -> Result<HttpResponse, ApiError> {
    let project = state.engine.create_project(&body.name).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "projectId": project.id, "name": project.name })))
}

pub async fn create_api_key(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<NameBody>,
) -> Result<HttpResponse, ApiError> {
    let (record, secret) = state.engine.issue_api_key(&project, &body.name).await?;
    // The one place a key is shown: in the answer to the operator who made it.
    Ok(HttpResponse::Created()
        .json(serde_json::json!({ "apiKeyId": record.id, "apiKey": secret.expose(), "hint": record.hint })))
}

pub async fn delete_api_key(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    state.engine.revoke_api_key(&project, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentBody {
    agent_id: String,
    integrations: Option<Vec<String>>,
}

pub async fn create_agent(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let agent = state.engine.put_agent(&project, &body.agent_id, body.integrations).await?;
    Ok(HttpResponse::Created()
        .json(serde_json::json!({ "agentId": agent.agent_id, "integrations": agent.integrations })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntegrationBody {
    provider: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    config: serde_json::Value,
}

pub async fn put_integration(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
    body: web::Json<IntegrationBody>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    let body = body.into_inner();
    let draft = IntegrationDraft {
        key,
        provider: body.provider,
        client_id: body.client_id,
        client_secret: SecretString::new(body.client_secret),
        scopes: body.scopes,
        config: if body.config.is_null() { serde_json::json!({}) } else { body.config },
    };
    Ok(HttpResponse::Ok().json(state.engine.put_integration(&project, draft).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginsBody {
    origins: Vec<String>,
}

pub async fn put_origins(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<OriginsBody>,
) -> Result<HttpResponse, ApiError> {
    let origins = state.engine.set_origins(&project, body.into_inner().origins).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "origins": origins })))
}
