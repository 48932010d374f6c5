//! `/v1/sessions`: create, read (and long-poll), confirm.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use securix_engine::flows::sessions::CreateSession;
use securix_engine::model::session::Flow;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::identity::{AGENT_ID, App, AppOrAgent, optional_header};
use super::problem::ApiError;
use super::problem::responses::{
    BadRequest, Forbidden, Gone, Internal, NotFound, PayloadTooLarge, RequestTimeout, ServiceUnavailable,
    TooManyRequests, Unauthorized,
};
use super::views;
use crate::server::AppState;

/// What the session asks of one integration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderScopes {
    /// The integration's scopes when empty or left out.
    #[serde(default)]
    scopes: Vec<String>,
    /// Connection params the provider's URLs need (`{subdomain: "acme"}`), each checked
    /// by the catalog entry's pattern; the connect page asks the user for the others.
    #[serde(default)]
    params: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    /// The end user the connections are for, in the app's own terms.
    entity_id: String,
    #[schema(value_type = views::Flow)]
    flow: Flow,
    /// By integration key (the reconnected connection's is added when left out).
    #[serde(default)]
    providers: BTreeMap<String, ProviderScopes>,
    /// Popup flow, required: the challenge of the `sxc` the app confirms with.
    sxc_challenge: Option<String>,
    /// Popup flow: the app's origin (one of the project's allowed origins).
    origin: Option<String>,
    /// Seconds.
    expires_in: Option<u64>,
    /// When the `securix-agent-id` header is not sent.
    agent_id: Option<String>,
    /// A connection of the entity to authorize again (after `reauth_required`, or for
    /// new scopes): it keeps its id.
    reconnect: Option<String>,
}

/// Create an auth session (popup or device flow).
#[utoipa::path(
    tag = "sessions",
    operation_id = "createSession",
    security(("apiKey" = [])),
    params(("securix-agent-id" = Option<String>, Header, description = "The calling agent; required unless the body has `agentId`")),
    responses(
        (status = 201, description = "The session, and where to send the user", body = views::SessionCreated),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/sessions")]
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
    let session = CreateSession {
        agent_id,
        entity_id: body.entity_id,
        flow: Some(body.flow),
        params: body.providers.iter().map(|(key, p)| (key.clone(), p.params.clone())).collect(),
        providers: body.providers.into_iter().map(|(key, p)| (key, p.scopes)).collect(),
        sxc_challenge: body.sxc_challenge,
        origin: body.origin,
        expires_in: body.expires_in.map(Duration::from_secs),
        reconnect: body.reconnect,
    };
    let created = state.engine.create_session(&principal, session).await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize, IntoParams)]
pub struct WaitQuery {
    /// Long-poll: seconds to wait for the status to change; more than 60 counts as 60.
    wait: Option<u64>,
}

/// Read a session's status; `?wait=SECONDS` long-polls.
#[utoipa::path(
    tag = "sessions",
    operation_id = "getSession",
    security(("apiKey" = []), ("agentToken" = [])),
    params(("id" = String, Path, description = "The session's id"), WaitQuery),
    responses(
        (status = 200, description = "The session's status", body = views::SessionView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/sessions/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: AppOrAgent,
    id: web::Path<String>,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse, ApiError> {
    let wait = query.wait.map(|secs| Duration::from_secs(secs.min(60)));
    let view = match caller {
        AppOrAgent::App(principal) => state.engine.session_status(&principal, &id, wait).await?,
        AppOrAgent::Agent(caller) => state.engine.session_status_as_agent(&caller, &id, wait).await?,
    };
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The secret whose challenge the session was created with.
    sxc: String,
}

/// Confirm a popup session with its `sxc`.
#[utoipa::path(
    tag = "sessions",
    operation_id = "confirmSession",
    security(("apiKey" = [])),
    params(("id" = String, Path, description = "The session's id")),
    responses(
        (status = 200, description = "Completed: the connections it activated", body = views::Confirmed),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 410, response = Gone),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[post("/v1/sessions/{id}/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    App(principal): App,
    id: web::Path<String>,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let confirmed = state.engine.confirm_session(&principal, &id, &body.sxc).await?;
    Ok(HttpResponse::Ok().json(confirmed))
}
