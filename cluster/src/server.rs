//! The HTTP server: opens the engine's store and vault and serves the routes.

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use std::sync::Arc;

use securix_engine::plugins::{FetchPolicy, PluginHost, PluginHostOptions};
use securix_engine::store::{RedbOptions, Store};
use securix_engine::vault::Vault;

use crate::config::ServeConfig;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub vault: Vault,
    pub plugins: Arc<PluginHost>,
}

pub fn run(config: ServeConfig) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(serve(config))
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let store_path = config.data_dir.join("securix.redb");
    let store = Store::open_redb(&store_path, RedbOptions::default())
        .with_context(|| format!("cannot open the store at {}", store_path.display()))?;
    let plugins = Arc::new(load_plugins(&config).await?);
    let vault = Vault::open(store.clone(), config.master_key).await?;
    let state = AppState { store, vault, plugins };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
    })
    .bind(config.listen)
    .with_context(|| format!("cannot listen on {}", config.listen))?;
    for address in server.addrs() {
        tracing::info!(%address, "SecuriX is listening");
        println!("SecuriX listening on http://{address}");
    }
    server.run().await.context("the HTTP server failed")
}

/// The bundled first-party plugins, then the operator's plugins directory.
async fn load_plugins(config: &ServeConfig) -> anyhow::Result<PluginHost> {
    let options = PluginHostOptions {
        fetch: FetchPolicy { allow_loopback_http: config.allow_loopback_http, ..FetchPolicy::default() },
        cache_dir: Some(config.data_dir.join("plugin-cache")),
        ..PluginHostOptions::default()
    };
    let host = PluginHost::new(options)?;
    for (id, wasm) in securix_plugins::FIRST_PARTY {
        host.load(wasm).await.with_context(|| format!("bundled plugin {id}"))?;
    }
    if let Some(dir) = &config.plugins_dir {
        host.load_dir(dir).await?;
    }
    let ids: Vec<String> = host.list().into_iter().map(|p| format!("{}@{}", p.id, p.wit)).collect();
    println!("SecuriX loaded {} provider plugins: {}", ids.len(), ids.join(", "));
    Ok(host)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when the store answers, the vault is unsealed and providers are loaded.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = match state.store.begin().await {
        Ok(tx) => tx.get(b"readyz").await.is_ok(),
        Err(_) => false,
    };
    if store_ok && !state.vault.is_sealed() && !state.plugins.list().is_empty() {
        HttpResponse::Ok().content_type("text/plain").body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable().content_type("text/plain").body("not ready\n")
    }
}
