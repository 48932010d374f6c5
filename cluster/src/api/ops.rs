//! Operations: liveness, readiness, Prometheus metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{HttpResponse, get, web};

use crate::server::AppState;

/// Counters exported at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub proxy_calls: AtomicU64,
}

impl Metrics {
    /// One answered request.
    pub fn count(&self, status: u16) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let errors = match status {
            400..=499 => Some(&self.client_errors),
            500..=599 => Some(&self.server_errors),
            _ => None,
        };
        if let Some(errors) = errors {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Alive: the process answers.
#[utoipa::path(
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "Alive", body = String, content_type = "text/plain", example = "ok\n")),
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready to serve.
///
/// Ready when the store answers and takes commits, the vault is unsealed and
/// providers are loaded.
#[utoipa::path(
    tag = "operations",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ready\n"),
        (status = 503, description = "Not ready (store, vault or providers)", body = String, content_type = "text/plain", example = "not ready\n"),
    ),
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = state.engine.store().failure().is_none()
        && match state.engine.store().begin().await {
            Ok(tx) => tx.get(b"readyz").await.is_ok(),
            Err(_) => false,
        };
    let ready = store_ok && !state.engine.vault().is_sealed() && !state.engine.plugins().list().is_empty();
    // A plugin file left out does not make the node unready (everything else runs);
    // it is named, with its error's code, for whoever watches this.
    let left_out: String = state
        .engine
        .plugins()
        .failed()
        .iter()
        .map(|f| format!("plugin {} unavailable: {}\n", f.id, f.code))
        .collect();
    if ready {
        HttpResponse::Ok().content_type("text/plain").body(format!("ready\n{left_out}"))
    } else {
        HttpResponse::ServiceUnavailable().content_type("text/plain").body(format!("not ready\n{left_out}"))
    }
}

/// Prometheus metrics of this node.
#[utoipa::path(
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "The Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let m = &state.metrics;
    let (sessions, entities) = state.engine.active_actors().await;
    let caches = state.engine.cache_stats();
    let (plans, keys) = (caches.proxy_plans, caches.api_keys);
    let mut text = format!(
        "# HELP securix_http_requests_total HTTP requests served.\n# TYPE securix_http_requests_total counter\nsecurix_http_requests_total {}\n\
         # HELP securix_http_client_errors_total Answers with a 4xx status.\n# TYPE securix_http_client_errors_total counter\nsecurix_http_client_errors_total {}\n\
         # HELP securix_http_server_errors_total Answers with a 5xx status.\n# TYPE securix_http_server_errors_total counter\nsecurix_http_server_errors_total {}\n\
         # HELP securix_proxy_calls_total Calls proxied to providers.\n# TYPE securix_proxy_calls_total counter\nsecurix_proxy_calls_total {}\n\
         # HELP securix_proxy_plan_lookups_total Proxy calls that reused a remembered plan (hit) or worked it out (miss).\n# TYPE securix_proxy_plan_lookups_total counter\nsecurix_proxy_plan_lookups_total{{result=\"hit\"}} {}\nsecurix_proxy_plan_lookups_total{{result=\"miss\"}} {}\n\
         # HELP securix_api_key_lookups_total API keys found remembered (hit) or read from the store (miss).\n# TYPE securix_api_key_lookups_total counter\nsecurix_api_key_lookups_total{{result=\"hit\"}} {}\nsecurix_api_key_lookups_total{{result=\"miss\"}} {}\n\
         # HELP securix_active_actors Active actors on this node.\n# TYPE securix_active_actors gauge\nsecurix_active_actors{{kind=\"session\"}} {sessions}\nsecurix_active_actors{{kind=\"entity\"}} {entities}\n\
         # HELP securix_provider_plugins Loaded provider plugins.\n# TYPE securix_provider_plugins gauge\nsecurix_provider_plugins {}\n\
         # HELP securix_store_refusing_commits 1 once the store refuses every commit until a restart (its commit log failed).\n# TYPE securix_store_refusing_commits gauge\nsecurix_store_refusing_commits {}\n",
        m.requests.load(Ordering::Relaxed),
        m.client_errors.load(Ordering::Relaxed),
        m.server_errors.load(Ordering::Relaxed),
        m.proxy_calls.load(Ordering::Relaxed),
        plans.hits,
        plans.misses,
        keys.hits,
        keys.misses,
        state.engine.plugins().list().len(),
        u8::from(state.engine.store().failure().is_some()),
    );
    if let Some(mesh) = &state.mesh {
        let view = mesh.view();
        text.push_str(&format!(
            "# HELP securix_mesh_work_total Shard work handed to its owner over the mesh (forwarded) or run here because the owner was out of reach (unreachable).
# TYPE securix_mesh_work_total counter
securix_mesh_work_total{{result=\"forwarded\"}} {}
securix_mesh_work_total{{result=\"unreachable\"}} {}
\
             # HELP securix_mesh_peers Peers whose region this node can reach.
# TYPE securix_mesh_peers gauge
securix_mesh_peers {}
",
            view.forwarded,
            view.unreachable,
            view.peers.len(),
        ));
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
