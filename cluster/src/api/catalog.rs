//! What a project can use: the provider catalog, its integrations, the loaded
//! provider plugins, its events.

use actix_web::{HttpResponse, get, web};
use securix_engine::model::event;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use securix_engine::EngineError;
use securix_engine::catalog::AuthMode;

use super::identity::{App, Reader};
use super::problem::ApiError;
use super::problem::responses::{BadRequest, Internal, NotFound, Unauthorized};
use super::views;
use crate::server::AppState;

/// The project's integrations.
#[utoipa::path(
    tag = "catalog",
    operation_id = "listIntegrations",
    security(("apiKey" = [])),
    responses(
        (status = 200, description = "The project's enabled integrations", body = Vec<views::IntegrationView>),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/integrations")]
pub async fn integrations(state: web::Data<AppState>, App(principal): App) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.list_integrations(&principal.project_id).await?))
}

/// A provider plugin: loaded, or left out at start (its file could not be run).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderPlugin {
    id: String,
    name: String,
    /// The WIT version the plugin was built against (empty when it did not load).
    wit: String,
    /// The sites the plugin may call: `host` (https on 443), `host:port`, or an http origin.
    allowed_hosts: Vec<String>,
    /// Where the plugin may send the OAuth client secret (token, revocation); `*` is one path segment.
    client_auth_endpoints: Vec<String>,
    supports_refresh: bool,
    supports_revoke: bool,
    supports_pkce: bool,
    /// `loaded`, or `unavailable`: integrations that need it answer 503 `plugin-unavailable`.
    status: PluginStatus,
    /// Why it is unavailable, with the error's code (`PL0006 …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginStatus {
    Loaded,
    Unavailable,
}

/// The loaded provider plugins.
#[utoipa::path(
    tag = "catalog",
    operation_id = "listProviders",
    security(("apiKey" = [])),
    responses(
        (status = 200, description = "Every provider plugin: loaded, then those left out", body = Vec<ProviderPlugin>),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/providers")]
pub async fn providers(state: web::Data<AppState>, _app: App) -> HttpResponse {
    let plugins: Vec<ProviderPlugin> = state
        .engine
        .plugins()
        .list()
        .into_iter()
        .map(|p| ProviderPlugin {
            id: p.id,
            name: p.name,
            wit: p.wit,
            allowed_hosts: p.allowed_hosts,
            client_auth_endpoints: p.client_auth_endpoints,
            supports_refresh: p.supports_refresh,
            supports_revoke: p.supports_revoke,
            supports_pkce: p.supports_pkce,
            status: PluginStatus::Loaded,
            reason: None,
        })
        .collect();
    let failed = state.engine.plugins().failed().into_iter().map(|f| ProviderPlugin {
        name: f.id.clone(),
        id: f.id,
        wit: String::new(),
        allowed_hosts: Vec::new(),
        client_auth_endpoints: Vec::new(),
        supports_refresh: false,
        supports_revoke: false,
        supports_pkce: false,
        status: PluginStatus::Unavailable,
        reason: Some(f.reason),
    });
    let plugins: Vec<ProviderPlugin> = plugins.into_iter().chain(failed).collect();
    HttpResponse::Ok().json(plugins)
}

#[derive(Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Only events after this one (an event `id`).
    after: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// The project's event log, oldest first: the pull fallback for webhooks.
#[utoipa::path(
    tag = "catalog",
    operation_id = "listEvents",
    security(("apiKey" = [])),
    params(EventsQuery),
    responses(
        (status = 200, description = "Oldest first", body = Vec<views::Event>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/events")]
pub async fn events(
    state: web::Data<AppState>,
    App(principal): App,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let tx = state.engine.store().begin().await.map_err(securix_engine::EngineError::from)?;
    let log = event::list(&tx, &principal.project_id, query.after.as_deref(), limit)
        .await
        .map_err(securix_engine::EngineError::from)?;
    Ok(HttpResponse::Ok().json(log))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct CatalogQuery {
    /// Words that must each appear in the id, the name or a category.
    q: Option<String>,
    /// `oauth2`, `oauth2_client_credentials`, `oauth1`, `api_key`, `basic`, `jwt` or `mcp_oauth2`.
    auth_mode: Option<String>,
    category: Option<String>,
    /// At most this many (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// One page of the catalog.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPage {
    /// Entries in id order, each a `Provider` of API.md (the fields of `catalog/schema.json`, and `logoUrl`).
    #[schema(value_type = Vec<Object>)]
    providers: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// An entry as the API shows it: the entry, its logo always named.
fn provider_view(entry: &securix_engine::catalog::Entry) -> serde_json::Value {
    let mut view = serde_json::to_value(entry).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut view {
        map.insert("logoUrl".into(), entry.logo().into());
    }
    view
}

/// Every provider SecuriX knows, enabled or not: search, filter, page. The
/// admin token (`securix-admin-token`) reads it too.
#[utoipa::path(
    tag = "catalog",
    operation_id = "listCatalog",
    security(("apiKey" = [])),
    params(CatalogQuery),
    responses(
        (status = 200, description = "A page of providers, in id order", body = CatalogPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/catalog")]
pub async fn catalog(
    state: web::Data<AppState>,
    _reader: Reader,
    query: web::Query<CatalogQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let auth_mode = match &query.auth_mode {
        Some(mode) => Some(
            serde_json::from_value::<AuthMode>(serde_json::Value::String(mode.clone()))
                .map_err(|_| ApiError::bad_request(format!("authMode {mode:?} is not an auth mode")))?,
        ),
        None => None,
    };
    let page = state.engine.catalog().search(&securix_engine::catalog::CatalogQuery {
        q: query.q,
        auth_mode,
        category: query.category,
        limit: query.limit.unwrap_or(100),
        cursor: query.cursor,
    });
    Ok(HttpResponse::Ok().json(CatalogPage {
        providers: page.entries.iter().map(|e| provider_view(e)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One provider of the catalog.
#[utoipa::path(
    tag = "catalog",
    operation_id = "getCatalogProvider",
    security(("apiKey" = [])),
    params(("id" = String, Path, description = "The provider's catalog id")),
    responses(
        (status = 200, description = "The provider (API.md `Provider`)", body = Object),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/catalog/{id}")]
pub async fn catalog_entry(
    state: web::Data<AppState>,
    _reader: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.engine.catalog().get(&id).ok_or(EngineError::NotFound("provider"))?;
    Ok(HttpResponse::Ok().json(provider_view(&entry)))
}
