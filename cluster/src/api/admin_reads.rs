//! `/v1/admin/…` reads: every resource the admin API writes, listed a page at a
//! time (`?limit=&cursor=`, `{items, nextCursor}`), read, changed and deleted.
//! Never a secret: API keys list by their prefix, integrations without the client
//! secret.

use actix_web::{HttpResponse, delete, get, patch, web};
use securix_engine::model::page::{Page, PageRequest};
use securix_engine::util::clock::{Rfc3339, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::{NameBody, Origins};
use super::agents::AgentView;
use super::identity::Admin;
use super::problem::ApiError;
use super::problem::responses::{
    BadRequest, Internal, NotFound, PayloadTooLarge, RequestTimeout, Unauthorized,
};
use super::views;
use crate::server::AppState;

/// Where a page starts and how long it is.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// `nextCursor` of the page before; a cursor the server did not issue is a 400.
    cursor: Option<String>,
}

impl PageQuery {
    pub(crate) fn request(&self) -> PageRequest {
        PageRequest { limit: self.limit, cursor: self.cursor.clone() }
    }
}

/// A page of a listing as the API answers it.
fn page_of<T, V: Serialize>(page: Page<T>, view: impl FnMut(T) -> V) -> HttpResponse {
    HttpResponse::Ok().json(page.map(view))
}

fn at(timestamp: Timestamp) -> Rfc3339 {
    Rfc3339(timestamp)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectView {
    project_id: String,
    name: String,
    /// The origins allowed to open the popup flow.
    origins: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Rfc3339,
}

impl From<securix_engine::model::project::Project> for ProjectView {
    fn from(p: securix_engine::model::project::Project) -> Self {
        ProjectView { project_id: p.id, name: p.name, origins: p.origins, created_at: at(p.created_at) }
    }
}
page_schema!(ProjectPage, ProjectView, "projects");

/// An API key as it may be shown: its prefix, never the key.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    api_key_id: String,
    name: String,
    /// The key's first characters (`sxk_abcd`), to recognise it.
    prefix: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Rfc3339,
    /// When the key last authenticated a call, to five minutes; `null` if never.
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<Rfc3339>,
}

impl From<securix_engine::admin::KeyInUse> for ApiKeyView {
    fn from(used: securix_engine::admin::KeyInUse) -> Self {
        let k = used.key;
        ApiKeyView {
            api_key_id: k.id,
            name: k.name,
            prefix: k.hint,
            created_at: at(k.created_at),
            last_used_at: used.last_used_at.map(at),
        }
    }
}
page_schema!(ApiKeyPage, ApiKeyView, "API keys");

page_schema!(AgentPage, AgentView, "agents");
page_schema!(IntegrationPage, views::IntegrationView, "integrations");

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    endpoint_id: String,
    url: String,
    /// The event types sent; `null`: all.
    #[schema(required = true)]
    events: Option<Vec<String>>,
    enabled: bool,
    /// Since when every delivery failed; `null` while deliveries succeed.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    failing_since: Option<Rfc3339>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Rfc3339,
}

impl From<securix_engine::webhooks::endpoints::Endpoint> for EndpointView {
    fn from(e: securix_engine::webhooks::endpoints::Endpoint) -> Self {
        EndpointView {
            endpoint_id: e.id,
            url: e.url,
            events: e.events,
            enabled: e.enabled,
            failing_since: e.failing_since.map(at),
            created_at: at(e.created_at),
        }
    }
}
page_schema!(EndpointPage, EndpointView, "webhook endpoints");

/// List the projects.
#[utoipa::path(
    tag = "admin",
    operation_id = "listProjects",
    security(("adminToken" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of projects, in id order", body = ProjectPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects")]
pub async fn list_projects(
    state: web::Data<AppState>,
    _: Admin,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(page_of(state.engine.list_projects(&query.request()).await?, ProjectView::from))
}

/// Read a project.
#[utoipa::path(
    tag = "admin",
    operation_id = "getProject",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The project", body = ProjectView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}")]
pub async fn get_project(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ProjectView::from(state.engine.project(&project).await?)))
}

/// Rename a project.
#[utoipa::path(
    tag = "admin",
    operation_id = "updateProject",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    request_body = NameBody,
    responses(
        (status = 200, description = "The project", body = ProjectView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[patch("/v1/admin/projects/{projectId}")]
pub async fn update_project(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    body: web::Json<NameBody>,
) -> Result<HttpResponse, ApiError> {
    let renamed = state.engine.rename_project(&project, body.name()).await?;
    Ok(HttpResponse::Ok().json(ProjectView::from(renamed)))
}

/// Delete a project and everything of it: its keys stop working at once, its
/// connections' grants are revoked at their providers, every record is erased.
#[utoipa::path(
    tag = "admin",
    operation_id = "deleteProject",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[delete("/v1/admin/projects/{projectId}")]
pub async fn delete_project(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.engine.delete_project(&project).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The project's allowed popup origins.
#[utoipa::path(
    tag = "admin",
    operation_id = "getOrigins",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The origins allowed", body = Origins),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/origins")]
pub async fn get_origins(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Origins::of(state.engine.project(&project).await?.origins)))
}

/// List a project's API keys (never a key).
#[utoipa::path(
    tag = "admin",
    operation_id = "listApiKeys",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), PageQuery),
    responses(
        (status = 200, description = "A page of API keys, in id order", body = ApiKeyPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(page_of(state.engine.list_api_keys(&project, &query.request()).await?, ApiKeyView::from))
}

/// Read an API key (never the key).
#[utoipa::path(
    tag = "admin",
    operation_id = "getApiKey",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("apiKeyId" = String, Path, description = "The key's `apiKeyId`"),
    ),
    responses(
        (status = 200, description = "The key", body = ApiKeyView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/api-keys/{apiKeyId}")]
pub async fn get_api_key(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    Ok(HttpResponse::Ok().json(ApiKeyView::from(state.engine.api_key(&project, &key).await?)))
}

/// List a project's agents.
#[utoipa::path(
    tag = "admin",
    operation_id = "listAgents",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), PageQuery),
    responses(
        (status = 200, description = "A page of agents, in id order", body = AgentPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/agents")]
pub async fn list_agents(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(page_of(state.engine.list_agents(&project, &query.request()).await?, AgentView::from))
}

/// Read an agent.
#[utoipa::path(
    tag = "admin",
    operation_id = "getAgent",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("agentId" = String, Path, description = "The agent's id"),
    ),
    responses(
        (status = 200, description = "The agent", body = AgentView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/agents/{agentId}")]
pub async fn get_agent(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, agent) = path.into_inner();
    Ok(HttpResponse::Ok().json(AgentView::from(state.engine.agent(&project, &agent).await?)))
}

/// Delete an agent: its calls are refused at once.
#[utoipa::path(
    tag = "admin",
    operation_id = "deleteAgent",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("agentId" = String, Path, description = "The agent's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[delete("/v1/admin/projects/{projectId}/agents/{agentId}")]
pub async fn delete_agent(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, agent) = path.into_inner();
    state.engine.delete_agent(&project, &agent).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a project's integrations (never a client secret).
#[utoipa::path(
    tag = "admin",
    operation_id = "listProjectIntegrations",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), PageQuery),
    responses(
        (status = 200, description = "A page of integrations, in key order", body = IntegrationPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/integrations")]
pub async fn list_integrations(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(page_of(state.engine.list_integration_page(&project, &query.request()).await?, |i| i))
}

/// Read an integration (never its client secret).
#[utoipa::path(
    tag = "admin",
    operation_id = "getProjectIntegration",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("key" = String, Path, description = "The integration's key in the project"),
    ),
    responses(
        (status = 200, description = "The integration", body = views::IntegrationView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/integrations/{key}")]
pub async fn get_integration(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    Ok(HttpResponse::Ok().json(state.engine.integration(&project, &key).await?))
}

/// Delete an integration and its client secret. Its connections stay, unusable
/// until an integration of that key is put again.
#[utoipa::path(
    tag = "admin",
    operation_id = "deleteIntegration",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("key" = String, Path, description = "The integration's key in the project"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[delete("/v1/admin/projects/{projectId}/integrations/{key}")]
pub async fn delete_integration(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    state.engine.delete_integration(&project, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a project's webhook endpoints.
#[utoipa::path(
    tag = "admin",
    operation_id = "listWebhookEndpoints",
    security(("adminToken" = [])),
    params(("projectId" = String, Path, description = "The project's id"), PageQuery),
    responses(
        (status = 200, description = "A page of endpoints, in id order", body = EndpointPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/webhook-endpoints")]
pub async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    _: Admin,
    project: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(page_of(state.engine.list_webhook_endpoints(&project, &query.request()).await?, EndpointView::from))
}

/// Read a webhook endpoint.
#[utoipa::path(
    tag = "admin",
    operation_id = "getWebhookEndpoint",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("endpointId" = String, Path, description = "The endpoint's id"),
    ),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/admin/projects/{projectId}/webhook-endpoints/{endpointId}")]
pub async fn get_webhook_endpoint(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, endpoint) = path.into_inner();
    Ok(HttpResponse::Ok().json(EndpointView::from(state.engine.webhook_endpoint(&project, &endpoint).await?)))
}

/// Delete a webhook endpoint: nothing more is delivered to it.
#[utoipa::path(
    tag = "admin",
    operation_id = "deleteWebhookEndpoint",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("endpointId" = String, Path, description = "The endpoint's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[delete("/v1/admin/projects/{projectId}/webhook-endpoints/{endpointId}")]
pub async fn delete_webhook_endpoint(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, endpoint) = path.into_inner();
    state.engine.delete_webhook_endpoint(&project, &endpoint).await?;
    Ok(HttpResponse::NoContent().finish())
}
