//! The HTTP API of `../shared/API.md`. Each handler carries its route (`#[get(..)]`)
//! and its OpenAPI operation (`#[utoipa::path(..)]`) side by side; `configure`
//! registers them through `utoipa_actix_web`, which puts each on the app and in the
//! document in the same call, so the two cannot drift apart. `openapi` assembles
//! the document and serves it at `/openapi.json`.

/// Declares a page type for the OpenAPI document: `{items: [T], nextCursor}`.
macro_rules! page_schema {
    ($name:ident, $item:ty, $what:literal) => {
        #[doc = concat!("One page of ", $what, ".")]
        #[derive(ToSchema)]
        #[schema(rename_all = "camelCase")]
        #[allow(dead_code)]
        pub struct $name {
            items: Vec<$item>,
            /// Pass as `cursor` for the next page; `null` on the last.
            next_cursor: Option<String>,
        }
    };
}

pub mod admin;
pub mod admin_reads;
pub mod admin_views;
pub mod agents;
pub mod catalog;
pub mod cluster;
pub mod connections;
pub mod identity;
pub mod mcp;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod proxy;
pub mod sessions;
pub mod views;
pub mod webhooks;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::pages;

/// Registers every route on the app and in the OpenAPI document. Only `service`
/// calls belong here: `route` (and `map`) would reach the app without the document.
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(sessions::create)
        .service(sessions::get)
        .service(sessions::confirm)
        .service(connections::list)
        .service(connections::import)
        .service(connections::make_default)
        .service(connections::delete)
        .service(connections::audit)
        .service(catalog::catalog)
        .service(catalog::catalog_entry)
        .service(catalog::integrations)
        .service(catalog::providers)
        .service(catalog::events)
        .service(webhooks::keys)
        .service(webhooks::redeliver)
        .service(webhooks::create_endpoint)
        .service(webhooks::project_keys)
        .service(webhooks::rotate)
        .service(webhooks::retire)
        .service(admin::create_project)
        .service(admin::create_api_key)
        .service(admin::delete_api_key)
        .service(admin::create_agent)
        .service(agents::put_agent)
        .service(agents::mint_token)
        .service(agents::list_tokens)
        .service(agents::revoke_token)
        .service(mcp::message)
        .service(mcp::stream)
        .service(admin::put_integration)
        .service(admin::put_origins)
        .service(admin_reads::list_projects)
        .service(admin_reads::get_project)
        .service(admin_reads::update_project)
        .service(admin_reads::delete_project)
        .service(admin_reads::get_origins)
        .service(admin_reads::list_api_keys)
        .service(admin_reads::get_api_key)
        .service(admin_reads::list_agents)
        .service(admin_reads::get_agent)
        .service(admin_reads::delete_agent)
        .service(admin_reads::list_integrations)
        .service(admin_reads::get_integration)
        .service(admin_reads::delete_integration)
        .service(admin_reads::list_webhook_endpoints)
        .service(admin_reads::get_webhook_endpoint)
        .service(admin_reads::delete_webhook_endpoint)
        .service(admin_views::entities)
        .service(admin_views::connections)
        .service(admin_views::sessions)
        .service(admin_views::deliveries)
        .service(admin_views::retry_delivery)
        .service(admin_views::audit)
        .service(cluster::view)
        .service(pages::consent::show)
        .service(pages::consent::authorize)
        .service(pages::consent::deny)
        .service(pages::device::show)
        .service(pages::device::enter)
        .service(pages::callback::receive)
        .service(pages::browser_sdk::script)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(openapi::openapi_json);
}
