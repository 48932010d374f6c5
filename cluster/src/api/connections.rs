//! `/v1/entities/{entityId}/connections`: list, import and revoke, never a token.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use securix_engine::flows::import::Import;
use securix_engine::util::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::identity::App;
use super::problem::ApiError;
use super::problem::responses::{
    BadGateway, BadRequest, Conflict, GatewayTimeout, Internal, NotFound, PayloadTooLarge, RequestTimeout,
    ServiceUnavailable, Unauthorized, UnprocessableEntity,
};
use super::views;
use crate::server::AppState;

/// List an entity's connections (never a token).
#[utoipa::path(
    tag = "connections",
    operation_id = "listConnections",
    security(("apiKey" = [])),
    params(("entityId" = String, Path, description = "The end user, in the app's own terms")),
    responses(
        (status = 200, description = "The entity's connections", body = Vec<views::ConnectionView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/entities/{entityId}/connections")]
pub async fn list(
    state: web::Data<AppState>,
    App(principal): App,
    entity: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.list_connections(&principal, &entity).await?))
}

/// Credentials an app already holds, to import.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportBody {
    /// The integration the connection belongs to.
    integration: String,
    /// For a credential integration (`api_key`, `basic`, `jwt`), its fields by name
    /// (`{apiKey: "…"}`, `{username, password}`); for an OAuth integration, a token
    /// set (`{accessToken, refreshToken?, expiresIn?, scope?}`; a refresh token alone
    /// is refreshed). Never echoed.
    #[schema(write_only, value_type = Object)]
    credentials: BTreeMap<String, CredentialValue>,
    /// Connection params (`{subdomain: "acme"}`).
    #[serde(default)]
    params: BTreeMap<String, String>,
}

/// A credential's value: text, or a number (a token set's `expiresIn`).
#[derive(Deserialize)]
#[serde(untagged)]
enum CredentialValue {
    Text(String),
    Number(u64),
}

impl CredentialValue {
    fn into_secret(self) -> SecretString {
        match self {
            CredentialValue::Text(text) => SecretString::new(text),
            CredentialValue::Number(n) => SecretString::new(n.to_string()),
        }
    }
}

/// Import credentials the app already holds (server to server).
///
/// Checked at the provider with the integration's `verify` call first; nothing is
/// stored unless it accepts them.
#[utoipa::path(
    tag = "connections",
    operation_id = "importConnection",
    security(("apiKey" = [])),
    params(("entityId" = String, Path, description = "The end user, in the app's own terms")),
    request_body = ImportBody,
    responses(
        (status = 201, description = "The connection (never a credential)", body = views::ConnectionView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
        (status = 500, response = Internal),
        (status = 502, response = BadGateway),
        (status = 504, response = GatewayTimeout),
    ),
)]
#[post("/v1/entities/{entityId}/connections")]
pub async fn import(
    state: web::Data<AppState>,
    App(principal): App,
    entity: web::Path<String>,
    body: web::Json<ImportBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let import = Import {
        integration: body.integration,
        credentials: body.credentials.into_iter().map(|(k, v)| (k, v.into_secret())).collect(),
        params: body.params,
    };
    let created = state.engine.import_connection(&principal, &entity, import).await?;
    Ok(HttpResponse::Created().json(created))
}

/// What a connection's `PATCH` may change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    /// `true`: the proxy uses this connection when a call names none.
    default: bool,
}

/// Make a connection its integration's default for the entity.
#[utoipa::path(
    tag = "connections",
    operation_id = "updateConnection",
    security(("apiKey" = [])),
    params(
        ("entityId" = String, Path, description = "The end user, in the app's own terms"),
        ("connectionId" = String, Path, description = "The connection's id"),
    ),
    request_body = ConnectionPatch,
    responses(
        (status = 200, description = "The connection", body = views::ConnectionView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[patch("/v1/entities/{entityId}/connections/{connectionId}")]
pub async fn make_default(
    state: web::Data<AppState>,
    App(principal): App,
    path: web::Path<(String, String)>,
    body: web::Json<ConnectionPatch>,
) -> Result<HttpResponse, ApiError> {
    if !body.default {
        return Err(ApiError::bad_request(
            "`default` can only be set to true: make another connection the default",
        ));
    }
    let (entity, connection) = path.into_inner();
    Ok(HttpResponse::Ok().json(state.engine.make_default_connection(&principal, &entity, &connection).await?))
}

/// Revoke and delete a connection.
///
/// Revokes at the provider when it supports revocation, then deletes the vaulted
/// tokens.
#[utoipa::path(
    tag = "connections",
    operation_id = "deleteConnection",
    security(("apiKey" = [])),
    params(
        ("entityId" = String, Path, description = "The end user, in the app's own terms"),
        ("connectionId" = String, Path, description = "The connection's id"),
    ),
    responses(
        (status = 204, description = "Revoked and deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 502, response = BadGateway),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[delete("/v1/entities/{entityId}/connections/{connectionId}")]
pub async fn delete(
    state: web::Data<AppState>,
    App(principal): App,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (entity, connection) = path.into_inner();
    state.engine.delete_connection(&principal, &entity, &connection).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize, IntoParams)]
pub struct AuditQuery {
    /// At most this many records (default 100).
    limit: Option<usize>,
}

/// One use of an entity's token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord<'a> {
    #[schema(value_type = String, format = DateTime)]
    at: String,
    agent_id: &'a str,
    connection_id: &'a str,
    integration: &'a str,
    /// The HTTP method of the proxied call.
    method: &'a str,
    /// How many times SecuriX sent it again after the provider asked to slow down.
    retries: u32,
    /// The provider host it went to.
    host: &'a str,
    /// The provider's answer status, `0` when none arrived (unreachable, timed out);
    /// absent on records written before statuses were.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

/// Every use of the entity's tokens: agent, connection, host, time; newest first.
#[utoipa::path(
    tag = "connections",
    operation_id = "entityAudit",
    security(("apiKey" = [])),
    params(("entityId" = String, Path, description = "The end user, in the app's own terms"), AuditQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<AuditRecord>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/entities/{entityId}/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    App(principal): App,
    entity: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let trail = state.engine.audit_trail(&principal, &entity, query.limit.unwrap_or(100)).await?;
    let records: Vec<AuditRecord> = trail
        .iter()
        .map(|r| AuditRecord {
            at: r.at.rfc3339(),
            agent_id: &r.agent_id,
            connection_id: &r.connection_id,
            integration: &r.integration,
            method: &r.method,
            retries: r.retries,
            host: &r.host,
            status: r.status,
        })
        .collect();
    Ok(HttpResponse::Ok().json(records))
}
