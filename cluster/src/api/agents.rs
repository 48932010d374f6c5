//! `PUT /v1/admin/projects/{p}/agents/{agentId}`: what an agent may use — per
//! integration the scopes, methods and path patterns — whether a call for a user
//! not yet connected asks the user, and until when.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, put, web};
use securix_engine::model::agent::{Access, Agent, Grant};
use securix_engine::util::clock::{Rfc3339, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::identity::Admin;
use super::problem::ApiError;
use super::problem::responses::{BadRequest, Internal, NotFound, PayloadTooLarge, RequestTimeout, Unauthorized};
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
