//! Proxy-core overhead: the same GET (1 KB answer) to a local upstream, sent
//! directly with the engine's HTTP client (`http_client::HttpClient`) and through `Engine::proxy` (agent check, connection
//! lookup, entity actor, plugin `proxy-target`, header filtering, streaming), in
//! the same run, on one thread and over redb, as a server worker runs it. Prints
//! p50/p99 of each and the latency SecuriX adds.
//!
//! For changes of a few percent, count instructions instead, one side at a time:
//! `MODE=proxy N=6000 valgrind --tool=callgrind target/release/deps/proxy-…` minus
//! the same with `N=1000`, divided by 5000 (`MODE=direct` for the bare client).
//!
//! `cargo bench -p securix-engine --bench proxy`

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use securix_engine::flows::sessions::CreateSession;
use securix_engine::http_client::HttpClient;
use securix_engine::model::agent::Access;
use securix_engine::model::integration::IntegrationDraft;
use securix_engine::model::session::Flow;
use securix_engine::plugins::{FetchPolicy, PluginHost, PluginHostOptions, PluginLimits};
use securix_engine::proxy::{BodyStream, ProxyBody, ProxyRequest};
use securix_engine::store::{RedbOptions, Store};
use securix_engine::util::secret::SecretString;
use securix_engine::vault::MasterKey;
use securix_engine::{Engine, EngineError, EngineSettings};

#[path = "support/keepalive.rs"]
mod keepalive;

/// Calls of each kind (`N` overrides), after 200 to warm up.
const SAMPLES: usize = 3000;
/// The API's answer, in bytes.
const ANSWER_LEN: usize = 1000;

/// The upstream: OAuth endpoints for the setup, 1 KB for the API.
async fn upstream() -> std::io::Result<String> {
    let api_body = format!("{{\"data\":\"{}\"}}", "x".repeat(ANSWER_LEN - 11));
    keepalive::serve(move |path| match path {
        "/token" => r#"{"access_token":"bench-at","refresh_token":"bench-rt","expires_in":86400,"token_type":"Bearer"}"#.to_owned(),
        "/userinfo" => r#"{"sub":"bench-user"}"#.to_owned(),
        _ => api_body.clone(),
    })
    .await
}

async fn body_size(mut body: BodyStream) -> Result<usize, EngineError> {
    let mut size = 0;
    while let Some(chunk) = body.next().await {
        size += chunk?.len();
    }
    Ok(size)
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let samples: usize = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(SAMPLES);
    let mode = std::env::var("MODE").unwrap_or_default();
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let base = upstream().await?;
        let plugins = PluginHost::new(PluginHostOptions {
            fetch: FetchPolicy { allow_loopback_http: true, ..FetchPolicy::default() },
            // One call at a time: a small instance pool (valgrind cannot reserve the default's).
            limits: PluginLimits { max_concurrent_calls: 4, ..PluginLimits::default() },
            ..PluginHostOptions::default()
        })?;
        let (_, wasm) =
            securix_plugins::FIRST_PARTY.iter().find(|(id, _)| *id == "oauth2").ok_or("no oauth2 plugin")?;
        plugins.load(wasm).await?;
        let settings = EngineSettings { allow_loopback_http: true, ..EngineSettings::default() };
        let engine = Engine::builder()
            .store(Store::open_redb(&dir.path().join("bench.redb"), RedbOptions::default())?)
            .master_key(MasterKey::generate())
            .plugins(Arc::new(plugins))
            .settings(settings)
            .build()
            .await?;
        let project = engine.create_project("Bench").await?;
        let (_, key) = engine.issue_api_key(&project.id, "bench").await?;
        engine.put_agent(&project.id, "agent", Access::default()).await?;
        let config = serde_json::json!({
            "authorizationEndpoint": format!("{base}/authorize"), "tokenEndpoint": format!("{base}/token"),
            "userinfoEndpoint": format!("{base}/userinfo"), "apiBaseUrl": format!("{base}/api"),
        });
        let draft = IntegrationDraft {
            key: "up".into(),
            provider: "oauth2".into(),
            client_id: "c".into(),
            client_secret: SecretString::new("bench-client-secret"),
            scopes: vec![],
            config,
        };
        engine.put_integration(&project.id, draft).await?;
        let app = engine.authenticate(key.expose()).await?;
        let request = CreateSession {
            params: Default::default(),
            agent_id: "agent".into(),
            entity_id: "e1".into(),
            flow: Some(Flow::Device),
            providers: [("up".to_string(), vec![])].into_iter().collect(),
            ..CreateSession::default()
        };
        let session = engine.create_session(&app, request).await?;
        let browser = "bench-browser-0123456789";
        let id = engine
            .enter_device_code(session.device_auth_code.as_deref().unwrap_or_default(), "127.0.0.1", browser)
            .await?;
        let url = engine
            .begin_authorization(&id, "up", browser, &Default::default())
            .await?
            .redirect()
            .ok_or("no redirect")?;
        let state =
            url.split(['?', '&']).find_map(|p| p.strip_prefix("state=")).unwrap_or_default().to_owned();
        engine.oauth_callback(&state, Some("code"), None, None, browser).await?;

        let direct = HttpClient::new(securix_engine::policy::OutboundPolicy::danger_loopback())?;
        let target = format!("{base}/api/items");
        let mut direct_samples = Vec::with_capacity(samples);
        let mut proxy_samples = Vec::with_capacity(samples);
        for round in 0..samples + 200 {
            if mode != "proxy" {
                let started = Instant::now();
                let mut headers = hyper::header::HeaderMap::new();
                headers.insert(
                    hyper::header::AUTHORIZATION,
                    hyper::header::HeaderValue::from_static("Bearer bench-at"),
                );
                let answer = direct
                    .send(
                        hyper::Method::GET,
                        target.parse()?,
                        headers,
                        ProxyBody::empty(),
                        Duration::from_secs(30),
                    )
                    .await?;
                assert_eq!(body_size(answer.body).await?, ANSWER_LEN);
                direct_samples.push(started.elapsed());
            }
            if mode != "direct" {
                // As the server does for every call: the API key, then the proxy.
                let started = Instant::now();
                let app = engine.authenticate(key.expose()).await?;
                let call = ProxyRequest {
                    method: hyper::Method::GET,
                    path: "items".into(),
                    query: None,
                    headers: hyper::header::HeaderMap::new(),
                    body: ProxyBody::empty(),
                    connection_id: None,
                };
                let response = engine.proxy(&app, "agent", "e1", "up", call).await?;
                assert_eq!(body_size(response.body).await?, ANSWER_LEN);
                proxy_samples.push(started.elapsed());
            }
            if round < 200 {
                direct_samples.clear();
                proxy_samples.clear();
            }
        }
        if mode == "proxy" || mode == "direct" {
            engine.shutdown().await;
            return Ok(());
        }
        let (d50, d99) = (percentile(&mut direct_samples, 0.5), percentile(&mut direct_samples, 0.99));
        let (p50, p99) = (percentile(&mut proxy_samples, 0.5), percentile(&mut proxy_samples, 0.99));
        println!("direct to upstream: p50 {d50:>7.1} µs, p99 {d99:>7.1} µs");
        println!("through the proxy:  p50 {p50:>7.1} µs, p99 {p99:>7.1} µs");
        println!(
            "added by SecuriX's proxy core: p50 {:.1} µs, p99 {:.1} µs (targets: 150 µs, 1 ms)",
            p50 - d50,
            p99 - d99
        );
        engine.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
