//! `/v1/admin/…`: what an operator does, behind the admin token.

use actix_web::{HttpResponse, delete, post, put, web};
use securix_engine::model::integration::IntegrationDraft;
use securix_engine::util::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::identity::Admin;
use super::problem::ApiError;
use super::problem::responses::{
    BadRequest, Internal, NotFound, PayloadTooLarge, RequestTimeout, ServiceUnavailable, Unauthorized,
};
use super::views;
use crate::server::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    name: String,
}

impl NameBody {
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectCreated {
    project_id: String,
    name: String,
}

/// Create a project.
#[utoipa::path(
    tag = "admin",
    operation_id = "createProject",
    security(("adminToken" = [])),
    responses(
        (status = 201, description = "Created", body = ProjectCreated),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/admin/projects")]
pub async fn create_project(
    state: web::Data<AppState>,
    _: Admin,
    body: web::Json<NameBody>,
) -> Result<HttpResponse, ApiError> {
    let project = state.engine.create_project(&body.name).await?;
    Ok(HttpResponse::Created().json(ProjectCreated { project_id: project.id, name: project.name }))
}

/// A new API key: the one time it is shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated<'a> {
    api_key_id: String,
    /// `sxk_…`: keep it; it cannot be shown again.
    api_key: &'a str,
    /// The key's first characters, to recognise it in a list.
    hint: String,
}

/// Create an API key (shown once).
#[utoipa::path(
    tag = "admin",
    operation_id = "createApiKey",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 201, description = "Created; the key is in this answer only", body = ApiKeyCreated),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/admin/projects/{projectId}/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<NameBody>,
) -> Result<HttpResponse, ApiError> {
    let (record, secret) = state.engine.issue_api_key(&project, &body.name).await?;
    // The one place a key is shown: in the answer to the operator who made it.
    Ok(HttpResponse::Created().json(ApiKeyCreated {
        api_key_id: record.id,
        api_key: secret.expose(),
        hint: record.hint,
    }))
}

/// Delete an API key, effective at once.
#[utoipa::path(
    tag = "admin",
    operation_id = "deleteApiKey",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("apiKeyId" = String, Path, description = "The key's `apiKeyId`"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[delete("/v1/admin/projects/{projectId}/api-keys/{apiKeyId}")]
pub async fn delete_api_key(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    state.engine.revoke_api_key(&project, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentBody {
    agent_id: String,
    /// The integrations the agent may use; all of the project's when left out.
    integrations: Option<Vec<String>>,
}

/// An agent as stored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentCreated {
    agent_id: String,
    /// `null`: every integration of the project.
    #[schema(required = true)]
    integrations: Option<Vec<String>>,
}

/// Create or replace an agent.
#[utoipa::path(
    tag = "admin",
    operation_id = "createAgent",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 201, description = "Created or replaced", body = AgentCreated),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/admin/projects/{projectId}/agents")]
pub async fn create_agent(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let access = securix_engine::model::agent::Access::to(body.integrations);
    let agent = state.engine.put_agent(&project, &body.agent_id, access).await?;
    let integrations = agent.integrations.map(|grants| grants.into_keys().collect());
    Ok(HttpResponse::Created().json(AgentCreated { agent_id: agent.agent_id, integrations }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntegrationBody {
    /// A catalog entry or plugin id, or a generic provider (`oauth2`, `api_key`, …).
    provider: String,
    /// The project's OAuth client; none for credential providers (`api_key`, `basic`).
    #[serde(default)]
    client_id: String,
    /// Stored in the vault; never echoed.
    #[serde(default)]
    #[schema(write_only)]
    client_secret: String,
    #[serde(default)]
    scopes: Vec<String>,
    /// Overrides of the catalog entry (endpoints, an OIDC `discoveryUrl`, …); for a
    /// generic provider, the entry itself.
    #[serde(default)]
    #[schema(value_type = Object)]
    config: serde_json::Value,
}

/// Enable a provider with the project's OAuth client.
#[utoipa::path(
    tag = "admin",
    operation_id = "putIntegration",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("key" = String, Path, description = "The integration's key in the project"),
    ),
    responses(
        (status = 200, description = "The integration (the secret is never echoed)", body = views::IntegrationView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[put("/v1/admin/projects/{projectId}/integrations/{key}")]
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

/// The allowed popup origins (`https://app.example`), at most 100.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Origins {
    #[schema(max_items = 100)]
    origins: Vec<String>,
}

impl Origins {
    pub fn of(origins: Vec<String>) -> Self {
        Origins { origins }
    }
}

/// Set the allowed popup origins.
#[utoipa::path(
    tag = "admin",
    operation_id = "putOrigins",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The origins now allowed", body = Origins),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[put("/v1/admin/projects/{projectId}/origins")]
pub async fn put_origins(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<Origins>,
) -> Result<HttpResponse, ApiError> {
    let origins = state.engine.set_origins(&project, body.into_inner().origins).await?;
    Ok(HttpResponse::Ok().json(Origins { origins }))
}
