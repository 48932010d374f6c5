//! Agents: `PUT /v1/admin/projects/{p}/agents/{agentId}` grants what an agent may
//! use — per integration the scopes, methods and path patterns — whether a call
//! for a user not yet connected asks the user, and until when; the app mints and
//! revokes agent tokens (`/v1/agents/{agentId}/tokens`).

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpResponse, delete, get, post, put, web};
use securix_engine::model::agent::{Access, Agent, Grant};
use securix_engine::util::clock::{Rfc3339, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin_reads::PageQuery;
use super::identity::{Admin, App};
use super::problem::ApiError;
use super::problem::responses::{
    BadRequest, Internal, NotFound, PayloadTooLarge, RequestTimeout, Unauthorized,
};
use crate::server::AppState;

/// What an agent may do with one integration; a list left out allows all.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantView {
    /// The scopes its sessions may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    /// HTTP methods of proxied calls, in capitals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(examples(json!(["GET"])))]
    methods: Option<Vec<String>>,
    /// Path patterns of proxied calls: `*` stands for one segment or part of one,
    /// `**` for any number of segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(examples(json!(["/repos/**"])))]
    paths: Option<Vec<String>>,
}

impl From<Grant> for GrantView {
    fn from(g: Grant) -> Self {
        GrantView { scopes: g.scopes, methods: g.methods, paths: g.paths }
    }
}

impl From<GrantView> for Grant {
    fn from(g: GrantView) -> Self {
        Grant { scopes: g.scopes, methods: g.methods, paths: g.paths }
    }
}

/// An agent as stored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    agent_id: String,
    /// Per integration what the agent may do; `null`: every integration of the
    /// project, unrestricted.
    #[schema(required = true)]
    integrations: Option<BTreeMap<String, GrantView>>,
    connect_on_demand: bool,
    /// After this the agent may do nothing; `null`: no end.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    expires_at: Option<Rfc3339>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Rfc3339,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        AgentView {
            agent_id: a.agent_id,
            integrations: a
                .integrations
                .map(|grants| grants.into_iter().map(|(key, grant)| (key, grant.into())).collect()),
            connect_on_demand: a.connect_on_demand,
            expires_at: a.expires_at.map(Rfc3339),
            created_at: Rfc3339(a.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessBody {
    /// Per integration what the agent may do; every integration, unrestricted,
    /// when left out.
    integrations: Option<BTreeMap<String, GrantView>>,
    /// A call for a user with no usable connection answers `authorization-required`
    /// with a device session for them (default false).
    #[serde(default)]
    connect_on_demand: bool,
    /// RFC 3339; after it the agent may do nothing.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// Create or replace an agent with its grant.
#[utoipa::path(
    tag = "admin",
    operation_id = "putAgent",
    security(("adminToken" = [])),
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("agentId" = String, Path, description = "The agent's id"),
    ),
    request_body = AccessBody,
    responses(
        (status = 200, description = "The agent as stored", body = AgentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[put("/v1/admin/projects/{projectId}/agents/{agentId}")]
pub async fn put_agent(
    state: web::Data<AppState>,
    _: Admin,
    path: web::Path<(String, String)>,
    body: web::Json<AccessBody>,
) -> Result<HttpResponse, ApiError> {
    let (project, agent_id) = path.into_inner();
    let body = body.into_inner();
    let expires_at = match &body.expires_at {
        Some(text) => Some(
            Timestamp::parse_rfc3339(text)
                .ok_or_else(|| ApiError::bad_request("`expiresAt` must be an RFC 3339 time"))?,
        ),
        None => None,
    };
    let access = Access {
        integrations: body
            .integrations
            .map(|grants| grants.into_iter().map(|(key, grant)| (key, grant.into())).collect()),
        connect_on_demand: body.connect_on_demand,
        expires_at,
    };
    let agent = state.engine.put_agent(&project, &agent_id, access).await?;
    Ok(HttpResponse::Ok().json(AgentView::from(agent)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenBody {
    /// The user the agent acts for.
    entity_id: String,
    /// Seconds, 60 to 86,400 (default 3,600).
    #[schema(minimum = 60, maximum = 86400)]
    expires_in: Option<u64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenMinted {
    token_id: String,
    /// `sxa_…`: shown this once. `Authorization: Bearer` it on the proxy and `/v1/mcp`.
    token: String,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Rfc3339,
}

/// Mint a short-lived token for one agent acting for one entity, so the agent
/// process never holds the project's API key.
#[utoipa::path(
    tag = "agents",
    operation_id = "mintAgentToken",
    security(("apiKey" = [])),
    params(("agentId" = String, Path, description = "The agent's id")),
    request_body = TokenBody,
    responses(
        (status = 201, description = "The token, shown once", body = TokenMinted),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/agents/{agentId}/tokens")]
pub async fn mint_token(
    state: web::Data<AppState>,
    App(principal): App,
    agent: web::Path<String>,
    body: web::Json<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let expires_in = body.expires_in.map(Duration::from_secs);
    let (token, secret) =
        state.engine.mint_agent_token(&principal, &agent, &body.entity_id, expires_in).await?;
    Ok(HttpResponse::Created().json(TokenMinted {
        token_id: token.id,
        token: secret.expose().to_owned(),
        expires_at: Rfc3339(token.expires_at),
    }))
}

/// An agent token as it may be listed: never the token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    token_id: String,
    entity_id: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Rfc3339,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Rfc3339,
}
page_schema!(TokenPage, TokenView, "live agent tokens");

/// List an agent's live tokens (the app's API key): who each acts for and until when.
#[utoipa::path(
    tag = "agents",
    operation_id = "listAgentTokens",
    security(("apiKey" = [])),
    params(("agentId" = String, Path, description = "The agent's id"), PageQuery),
    responses(
        (status = 200, description = "A page of live tokens, by id", body = TokenPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/agents/{agentId}/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    App(principal): App,
    agent: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.engine.list_agent_tokens(&principal, &agent, &query.request()).await?;
    Ok(HttpResponse::Ok().json(page.map(|t| TokenView {
        token_id: t.id,
        entity_id: t.entity_id,
        created_at: Rfc3339(t.created_at),
        expires_at: Rfc3339(t.expires_at),
    })))
}

/// Revoke an agent token: it is refused from now on.
#[utoipa::path(
    tag = "agents",
    operation_id = "revokeAgentToken",
    security(("apiKey" = [])),
    params(
        ("agentId" = String, Path, description = "The agent's id"),
        ("tokenId" = String, Path, description = "The token's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[delete("/v1/agents/{agentId}/tokens/{tokenId}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    App(principal): App,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (agent, token) = path.into_inner();
    state.engine.revoke_agent_token(&principal, &agent, &token).await?;
    Ok(HttpResponse::NoContent().finish())
}
