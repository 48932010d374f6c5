//! Identity as extractors: a handler that takes `App` is authenticated by the
//! `securix-api-key` header; one that takes `Admin` by `securix-admin-token`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use securix_engine::Principal;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::problem::ApiError;
use crate::server::AppState;

pub const API_KEY: &str = "securix-api-key";
pub const AGENT_ID: &str = "securix-agent-id";
pub const ENTITY_ID: &str = "securix-entity-id";
pub const CONNECTION_ID: &str = "securix-connection-id";
pub const ADMIN_TOKEN: &str = "securix-admin-token";

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|value| value.to_str().ok()).and_then(present)
}

/// A header's value as it counts: trimmed, and not empty.
pub fn present(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

pub fn optional_header(request: &HttpRequest, name: &str) -> Option<String> {
    header(request, name).map(str::to_owned)
}

fn state(request: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("server misconfigured"))
}

/// The calling app: the project of a valid API key.
pub struct App(pub Principal);

impl FromRequest for App {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = header(request, API_KEY).map(str::to_owned);
        let state = state(request);
        Box::pin(async move {
            let key = key.ok_or_else(|| ApiError::unauthorized("the securix-api-key header is required"))?;
            let principal = state?.engine.authenticate(&key).await.map_err(ApiError::from)?;
            Ok(App(principal))
        })
    }
}

/// The app (an API key), or an agent holding an agent token, who may see only
/// what concerns its entity.
pub enum AppOrAgent {
    App(Principal),
    Agent(securix_engine::auth::AgentCaller),
}

impl FromRequest for AppOrAgent {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if header(request, API_KEY).is_some() {
            let app = App::from_request(request, payload);
            return Box::pin(async move { app.await.map(|App(principal)| AppOrAgent::App(principal)) });
        }
        let token = bearer(header(request, "authorization")).map(str::to_owned);
        let state = state(request);
        Box::pin(async move {
            let token = token.ok_or_else(missing_identity)?;
            Ok(AppOrAgent::Agent(state?.engine.authenticate_agent(&token).await?))
        })
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn missing_identity() -> ApiError {
    ApiError::unauthorized(
        "the securix-api-key header or an agent token (Authorization: Bearer sxa_…) is required",
    )
}

/// A project's app or the operator: whoever may read what SecuriX knows in general
/// (the provider catalog).
pub struct Reader;

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if header(request, ADMIN_TOKEN).is_some() {
            let admin = Admin::from_request(request, payload).into_inner();
            return Box::pin(async move { admin.map(|_| Reader) });
        }
        let app = App::from_request(request, payload);
        Box::pin(async move { app.await.map(|_| Reader) })
    }
}

/// An operator holding the admin token.
pub struct Admin;

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verdict = match (header(request, ADMIN_TOKEN), state(request)) {
            (Some(token), Ok(state)) if bool::from(token_hash(token).ct_eq(&state.admin_token_hash)) => {
                Ok(Admin)
            }
            (None, _) => Err(ApiError::unauthorized("the securix-admin-token header is required")),
            _ => Err(ApiError::unauthorized("wrong admin token")),
        };
        std::future::ready(verdict)
    }
}

/// Who a call acts as, on the routes agents use (the proxy, `/v1/mcp`): a project
/// API key with the agent and entity headers, or an agent token
/// (`Authorization: Bearer sxa_…`) standing for all three.
pub struct Acting {
    pub principal: Principal,
    pub agent_id: String,
    pub entity_id: String,
}

/// The identity a call's headers give, the API key first.
pub struct Presented<'a> {
    pub api_key: Option<&'a str>,
    pub agent_id: Option<&'a str>,
    pub entity_id: Option<&'a str>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
}

impl Presented<'_> {
    pub async fn acting(&self, engine: &securix_engine::Engine) -> Result<Acting, ApiError> {
        if let Some(key) = self.api_key {
            let principal = engine.authenticate(key).await?;
            let required = |value: Option<&str>, name: &str| {
                value
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::bad_request(format!("the {name} header is required")))
            };
            let agent_id = required(self.agent_id, AGENT_ID)?;
            let entity_id = required(self.entity_id, ENTITY_ID)?;
            return Ok(Acting { principal, agent_id, entity_id });
        }
        let token = bearer(self.authorization).ok_or_else(missing_identity)?;
        let caller = engine.authenticate_agent(token).await?;
        Ok(Acting {
            principal: caller.principal,
            agent_id: caller.agent_id.to_string(),
            entity_id: caller.entity_id.to_string(),
        })
    }
}
