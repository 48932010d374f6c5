//! The sandbox: hostile plugins fail clearly within their limits and the host
//! lives on; a third party's plugin loads; a wrong WIT version is refused.

use std::time::{Duration, Instant};

use securix_engine::plugins::{PluginError, ProviderFailure, SUPPORTED_VERSIONS};
use securix_engine::util::secret::SecretString;
use serde_json::json;

use crate::providers::{CLIENT_SECRET, first_party, routed_host, target};
use crate::support::scripted::{Response, ScriptedServer};
use crate::support::test_plugins;

pub fn params() -> securix_engine::plugins::AuthorizeParams {
    securix_engine::plugins::AuthorizeParams {
        scopes: vec![],
        state: "s".into(),
        code_challenge: None,
        login_hint: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_fail_within_their_limits_and_the_host_lives_on() {
    let evil = ScriptedServer::start(|_| Response::json(200, json!({"stolen": true}))).await;
    let evil_url = format!("{}/steal", evil.base_url);
    let provider = ScriptedServer::start(move |r| match r.path.as_str() {
        "/redirect-me" => Response::redirect(&evil_url),
        _ => Response::json(200, json!({})),
    })
    .await;
    let host = routed_host(&provider, &["provider.test"]);
    let hostile = host.load(&test_plugins::wasm("hostile")).await.unwrap();
    let google = first_party(&host, "google").await;
    let call = |mode: &str| {
        let (hostile, t) = (hostile.clone(), target(json!({"mode": mode})));
        async move {
            let started = Instant::now();
            let result = hostile.authorize_url(&t, params()).await;
            (result, started.elapsed())
        }
    };

    let (looped, took) = call("loop").await;
    assert!(matches!(looped, Err(PluginError::CpuLimit { .. })), "{looped:?}");
    assert!(took < Duration::from_secs(2), "stopped at its 200 ms budget, took {took:?}");

    let (hoarded, _) = call("alloc").await;
    assert!(matches!(hoarded, Err(PluginError::MemoryLimit { .. })), "{hoarded:?}");

    let (outside, _) = call("fetch-outside").await;
    match outside {
        Err(PluginError::Provider { failure: ProviderFailure::Protocol(message), .. }) => {
            assert!(message.contains("not allowed") && message.contains("evil.test"), "{message}")
        }
        other => panic!("expected the fetch to be denied, got {other:?}"),
    }

    let (redirected, _) = call("redirect").await;
    match redirected {
        Err(PluginError::Provider { failure: ProviderFailure::Protocol(message), .. }) => {
            assert!(message.starts_with("status 302") && message.contains("not allowed"), "{message}")
        }
        other => panic!("expected the redirect target to be denied, got {other:?}"),
    }
    assert!(evil.requests().is_empty(), "the other host was never contacted");

    let (trapped, _) = call("trap").await;
    assert!(matches!(trapped, Err(PluginError::Trap { .. })), "{trapped:?}");

    let (phished, _) = call("phish").await;
    assert!(matches!(phished, Err(PluginError::BadOutput { .. })), "consent URLs stay on declared sites");

    // After all that, good plugins (and the hostile one, behaving) still work.
    let url = google.authorize_url(&target(json!({})), params()).await.unwrap();
    assert!(url.starts_with("https://accounts.google.com/"));
    assert_eq!(call("behave").await.0.unwrap(), "https://provider.test/authorize");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_only_against_the_sdk_completes_a_code_exchange() {
    let server = ScriptedServer::start(|r| match r.path.as_str() {
        "/token" => {
            Response::json(200, json!({"access_token": "acme-at", "token_type": "Bearer", "expires_in": 60}))
        }
        "/me" => Response::json(200, json!({"sub": "acme-user-1"})),
        _ => Response::json(404, json!({})),
    })
    .await;
    let host = routed_host(&server, &["auth.acme.test", "api.acme.test"]);
    let acme = host.load(&test_plugins::wasm("acme")).await.unwrap();
    assert_eq!(acme.info().id, "acme");
    assert_eq!(Some(&acme.info().wit.as_str()), SUPPORTED_VERSIONS.last());
    assert!(host.list().iter().any(|p| p.id == "acme"));
    let t = target(json!({}));
    let issued = acme.exchange_code(&t, "code-9", None).await.unwrap();
    assert_eq!(issued.access_token.expose(), "acme-at");
    let request = server.only("/token");
    assert_eq!(request.form().get("code").unwrap(), "code-9");
    assert!(request.header("authorization").unwrap().starts_with("Basic "), "client_secret_basic");
    assert_eq!(acme.identity(&t, &SecretString::new("acme-at")).await.unwrap().account_id, "acme-user-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_wit_version_is_refused_naming_both_versions() {
    let server = ScriptedServer::start(|_| Response::json(404, json!({}))).await;
    let host = routed_host(&server, &[]);
    let error = host.load(&test_plugins::wasm("wrong_wit")).await.unwrap_err();
    match &error {
        PluginError::UnsupportedWitVersion { found, supported } => {
            assert_eq!(found, "9.0.0");
            assert!(supported.contains("0.1.0"), "{supported}");
        }
        other => panic!("expected the version to be refused: {other}"),
    }
    let garbage = host.load(b"not wasm at all").await.unwrap_err();
    assert!(matches!(garbage, PluginError::Load(_)), "{garbage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_secret_never_enters_the_guest() {
    // The provider echoes everything it received back in an error: the plugin sees
    // the placeholder, never the secret, and the error the engine gets is clean.
    let server = ScriptedServer::start(|r| {
        Response::json(
            400,
            json!({"error": "invalid_client", "error_description": String::from_utf8_lossy(&r.body)}),
        )
    })
    .await;
    let host = routed_host(&server, &["oauth2.googleapis.com", "accounts.google.com"]);
    let google = first_party(&host, "google").await;
    let error = google.exchange_code(&target(json!({})), "code-1", None).await.unwrap_err();
    let message = error.to_string();
    assert!(!message.contains("very-secret") && !message.contains(CLIENT_SECRET), "{message}");
    assert!(matches!(error, PluginError::Provider { failure: ProviderFailure::InvalidClient(_), .. }));
    // The provider did get the real secret.
    assert_eq!(server.only("/token").form().get("client_secret").unwrap(), CLIENT_SECRET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_plugins_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let options = || securix_engine::plugins::PluginHostOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let (_, wasm) = securix_plugins::FIRST_PARTY.iter().find(|(id, _)| *id == "github").unwrap();
    let cold = Instant::now();
    securix_engine::plugins::PluginHost::new(options()).unwrap().load(wasm).await.unwrap();
    let cold = cold.elapsed();
    let files = walk(dir.path());
    assert!(files > 0, "the compiled artefact was written to the cache");
    let warm = Instant::now();
    securix_engine::plugins::PluginHost::new(options()).unwrap().load(wasm).await.unwrap();
    eprintln!("plugin load: cold {cold:?}, warm from cache {:?}", warm.elapsed());
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

/// What a plugin returns for the wire is checked before it goes out: a URL with a
/// line break (it would split the `Location` header), a header that frames the
/// request or manages the connection, a value with a line break. Each is the
/// plugin's error, typed, so the caller is answered 502 and not blamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_that_would_frame_or_split_a_message_is_the_plugins_error() {
    let server = ScriptedServer::start(|_| Response::json(404, json!({}))).await;
    let host = routed_host(&server, &["provider.test"]);
    let hostile = host.load(&test_plugins::wasm("hostile")).await.unwrap();
    let token = SecretString::new("at");

    let split = hostile.authorize_url(&target(json!({"mode": "crlf"})), params()).await;
    assert!(matches!(split, Err(PluginError::BadOutput { .. })), "{split:?}");

    for mode in ["content-length", "transfer-encoding", "connection", "host", "crlf"] {
        let api = hostile.proxy_target(&target(json!({"mode": mode})), &token).await;
        assert!(matches!(api, Err(PluginError::BadOutput { .. })), "{mode}: {:?}", api.map(|a| a.base_url));
    }
    let api = hostile.proxy_target(&target(json!({"mode": "behave"})), &token).await.unwrap();
    assert_eq!(api.base_url, "https://provider.test/api");
}
