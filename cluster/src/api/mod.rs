//! The HTTP API of `../shared/API.md`: one table of routes, registered on the app
//! and published as OpenAPI at `/openapi.json` from the same table, so the two
//! cannot drift apart.

pub mod admin;
pub mod catalog;
pub mod cluster;
pub mod connections;
pub mod identity;
pub mod ops;
pub mod problem;
pub mod proxy;
pub mod sessions;
pub mod webhooks;

use actix_web::{HttpResponse, web};

use crate::pages;

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    ApiKey,
    Admin,
    Public,
}

/// One route: how it is served and how it is documented.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
}

macro_rules! routes {
    ($( $method:ident $path:literal $auth:ident $handler:path, $summary:literal; )*) => {
        /// Every route of the server.
        pub const ROUTES: &[Route] = &[ $( Route { method: stringify!($method), path: $path, summary: $summary, auth: Auth::$auth } ),* ];

        /// Registers every route of `ROUTES` on the app.
        pub fn configure(config: &mut web::ServiceConfig) {
            // The proxy first, matched by its static prefix: the hottest route
            // meets no other route's pattern on its way.
            config.service(web::scope(proxy::SCOPE).default_service(web::to(proxy::forward)));
            // OpenAPI's `{name}` path templates are actix's too.
            $( config.route($path, web::$method().to($handler)); )*
        }
    };
}

/// The proxy, for every method: registered in `configure`, documented here.
const FRONT_ROUTES: &[Route] = &[Route {
    method: "route",
    path: "/v1/proxy/{integration}/{path}",
    summary: "Call a provider API through SecuriX",
    auth: Auth::ApiKey,
}];

routes! {
    post "/v1/sessions" ApiKey sessions::create, "Create an auth session (popup or device flow)";
    get "/v1/sessions/{id}" ApiKey sessions::get, "Read a session's status; ?wait=SECONDS long-polls";
    post "/v1/sessions/{id}/confirm" ApiKey sessions::confirm, "Confirm a popup session with its sxc";
    get "/v1/entities/{entityId}/connections" ApiKey connections::list, "List an entity's connections (never a token)";
    delete "/v1/entities/{entityId}/connections/{connectionId}" ApiKey connections::delete, "Revoke and delete a connection";
    get "/v1/entities/{entityId}/audit" ApiKey connections::audit, "Every use of the entity's tokens, newest first";
    get "/v1/integrations" ApiKey catalog::integrations, "The project's integrations";
    get "/v1/providers" ApiKey catalog::providers, "The loaded provider plugins";
    get "/v1/events" ApiKey catalog::events, "The project's event log, oldest first (?after=&limit=)";
    get "/v1/webhooks/keys" ApiKey webhooks::keys, "The public keys webhooks are signed with (whpk_…)";
    post "/v1/events/redeliver" ApiKey webhooks::redeliver, "Deliver an event, or a time range of events, again";
    post "/v1/admin/projects/{projectId}/webhook-endpoints" Admin webhooks::create_endpoint, "Register a webhook endpoint";
    get "/v1/admin/projects/{projectId}/webhook-keys" Admin webhooks::project_keys, "A project's webhook signing keys";
    post "/v1/admin/projects/{projectId}/webhook-keys/rotate" Admin webhooks::rotate, "Add a signing key to a project; its old ones sign alongside until retired";
    post "/v1/admin/projects/{projectId}/webhook-keys/{keyId}/retire" Admin webhooks::retire, "Stop signing with a key";
    post "/v1/admin/projects" Admin admin::create_project, "Create a project";
    post "/v1/admin/projects/{projectId}/api-keys" Admin admin::create_api_key, "Create an API key (shown once)";
    delete "/v1/admin/projects/{projectId}/api-keys/{apiKeyId}" Admin admin::delete_api_key, "Delete an API key, effective at once";
    post "/v1/admin/projects/{projectId}/agents" Admin admin::create_agent, "Create or replace an agent";
    put "/v1/admin/projects/{projectId}/integrations/{key}" Admin admin::put_integration, "Enable a provider with the project's OAuth client";
    put "/v1/admin/projects/{projectId}/origins" Admin admin::put_origins, "Set the allowed popup origins";
    get "/v1/admin/cluster" Admin cluster::view, "The cluster's nodes, their leases and the shards each owns";
    get "/connect/{sessionId}" Public pages::consent::show, "The consent page";
    post "/connect/{sessionId}/authorize" Public pages::consent::authorize, "Continue to a provider";
    post "/connect/{sessionId}/deny" Public pages::consent::deny, "Decline";
    get "/device" Public pages::device::show, "Device code entry";
    post "/device" Public pages::device::enter, "Submit a device code";
    get "/oauth/callback" Public pages::callback::receive, "The redirect URI registered at providers";
    get "/sdk/securix.js" Public pages::browser_sdk::script, "The browser SDK (connect()) as one ES module";
    get "/healthz" Public ops::healthz, "Alive";
    get "/readyz" Public ops::readyz, "Store reachable and taking commits, vault unsealed, providers loaded";
    get "/metrics" Public ops::metrics, "Prometheus metrics";
    get "/openapi.json" Public openapi, "This API as OpenAPI 3";
}

/// The OpenAPI document, generated from `FRONT_ROUTES` and `ROUTES`.
pub async fn openapi() -> HttpResponse {
    let mut paths = serde_json::Map::new();
    for route in FRONT_ROUTES.iter().chain(ROUTES) {
        let methods: Vec<&str> = if route.method == "route" {
            vec!["get", "post", "put", "patch", "delete"]
        } else {
            vec![route.method]
        };
        let entry = paths.entry(route.path.to_owned()).or_insert_with(|| serde_json::json!({}));
        let parameters: Vec<serde_json::Value> = route
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| serde_json::json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let security = match route.auth {
            Auth::ApiKey => serde_json::json!([{ "apiKey": [] }]),
            Auth::Admin => serde_json::json!([{ "adminToken": [] }]),
            Auth::Public => serde_json::json!([]),
        };
        for method in methods {
            entry[method] = serde_json::json!({
                "summary": route.summary,
                "parameters": parameters,
                "security": security,
                "responses": {
                    "default": { "description": "An answer, or an RFC 9457 problem document", "content": { "application/problem+json": {} } }
                }
            });
        }
    }
    HttpResponse::Ok().json(serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "SecuriX", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": { "securitySchemes": {
            "apiKey": { "type": "apiKey", "in": "header", "name": "securix-api-key" },
            "adminToken": { "type": "apiKey", "in": "header", "name": "securix-admin-token" }
        }}
    }))
}
