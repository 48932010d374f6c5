//! The HTTP server: opens the engine's store and vault and serves the routes.

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use securix_engine::store::{RedbOptions, Store};
use securix_engine::vault::Vault;

use crate::config::ServeConfig;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub vault: Vault,
}

pub fn run(config: ServeConfig) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(serve(config))
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let store_path = config.data_dir.join("securix.redb");
    let store = Store::open_redb(&store_path, RedbOptions::default())
        .with_context(|| format!("cannot open the store at {}", store_path.display()))?;
    let vault = Vault::open(store.clone(), config.master_key).await?;
    let state = AppState { store, vault };
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

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when the store answers and the vault is unsealed.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = match state.store.begin().await {
        Ok(tx) => tx.get(b"readyz").await.is_ok(),
        Err(_) => false,
    };
    if store_ok && !state.vault.is_sealed() {
        HttpResponse::Ok().content_type("text/plain").body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable().content_type("text/plain").body("not ready\n")
    }
}
