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
