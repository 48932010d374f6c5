//! Plugins written against the SDK to misbehave, as a third party would (#29): one
//! case per hole. Each fails without its fix.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use securix_engine::plugins::{
    CallTarget, FetchPolicy, PluginError, PluginHost, PluginHostOptions, PluginLimits, PluginSource,
    ProviderFailure,
};
use securix_engine::util::secret::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::plugin_host::params;
use crate::providers::{CLIENT_SECRET, first_party, target};
use crate::support::scripted::{Response, ScriptedServer};
use crate::support::test_plugins;

/// A host whose fetches to each named site go to a local base URL.
fn host_routing(routes: &[(&str, &str)], limits: PluginLimits) -> PluginHost {
    let routes: HashMap<String, String> =
        routes.iter().map(|(h, b)| (h.to_string(), b.to_string())).collect();
    let fetch =
        FetchPolicy { allow_loopback_http: true, danger_test_routes: routes, ..FetchPolicy::default() };
    PluginHost::new(PluginHostOptions { limits, fetch, ..PluginHostOptions::default() }).unwrap()
}

fn with_mode(mode: &str) -> CallTarget {
    target(json!({ "mode": mode }))
}

/// The secret in the forms a provider might echo it in.
fn secret_forms() -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect();
    vec![
        CLIENT_SECRET.to_owned(),
        form.clone(),
        STANDARD.encode(CLIENT_SECRET),
        STANDARD.encode(format!("client-123:{form}")),
        CLIENT_SECRET.bytes().map(|b| format!("{b:02x}")).collect(),
    ]
}

/// 1. The client secret goes only to a declared client-auth endpoint, only in the
/// `client_secret` field or Basic, only in calls that authenticate the client; the
/// placeholder anywhere else fails the call even if the plugin swallows the refusal;
/// an echo of the secret never reaches the guest in any encoding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_secret_goes_only_where_rfc_6749_puts_it() {
    let echo_all = |r: &crate::support::scripted::Request| {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let auth = r.header("authorization").unwrap_or_default().to_owned();
        let mut response = Response::json(200, json!({ "body": body, "authorization": auth.clone() }));
        response.headers.push(("x-echo".into(), body.clone()));
        response.headers.push(("x-echo-auth".into(), auth));
        response.headers.push(("x-echo-hex".into(), body.bytes().map(|b| format!("{b:02x}")).collect()));
        response.headers.push(("x-echo-b64".into(), STANDARD.encode(&body)));
        if r.header("accept-encoding") != Some("identity") {
            response.headers.push(("x-unexpected".into(), "the host let the guest pick an encoding".into()));
        }
        if r.header("x-want-gzip").is_some() {
            response.headers.push(("content-encoding".into(), "gzip".into()));
        }
        response
    };
    let provider = ScriptedServer::start(echo_all).await;
    let elsewhere = ScriptedServer::start(echo_all).await;
    let host = host_routing(
        &[("provider.test", &provider.base_url), ("echo.test", &elsewhere.base_url)],
        PluginLimits::danger_test_minimum(),
    );
    let hostile = host.load(&test_plugins::wasm("hostile")).await.unwrap();

    for mode in [
        "secret-to-config-site",
        "secret-to-other-path",
        "secret-in-json",
        "secret-in-url",
        "secret-in-other-field",
        "secret-in-header",
    ] {
        let mut t = with_mode(mode);
        t.hosts = vec!["echo.test".into()];
        let error = hostile.exchange_code(&t, "code", None).await.unwrap_err();
        assert!(matches!(error, PluginError::SecretMisplaced { .. }), "{mode}: {error:?}");
        assert!(error.to_string().starts_with("PL0011"), "{error}");
    }
    let refused = hostile.authorize_url(&with_mode("secret-in-authorize"), params()).await.unwrap_err();
    assert!(matches!(refused, PluginError::SecretMisplaced { .. }), "{refused:?}");
    assert!(elsewhere.requests().is_empty(), "a site only the configuration added got nothing");
    assert!(provider.requests().is_empty(), "no request carrying the placeholder went out");

    // A legitimate token request, answered by an echo: the provider got the secret,
    // the guest got none of it, whatever the encoding.
    let echoed = hostile.exchange_code(&with_mode("echo"), "code", None).await.unwrap();
    let seen = echoed.access_token.expose();
    assert!(seen.contains("__securix_client_secret__"), "the echo came back scrubbed: {seen}");
    for form in secret_forms() {
        assert!(!seen.contains(&form), "the guest saw {form:?} in {seen}");
    }
    assert!(!seen.contains("x-unexpected"), "{seen}");
    let sent = provider.only("/token");
    assert_eq!(sent.form().get("client_secret").map(String::as_str), Some(CLIENT_SECRET));

    // An answer the guest asked to have compressed never reaches it.
    match hostile.exchange_code(&with_mode("echo-encoded"), "code", None).await {
        Err(PluginError::Provider { failure: ProviderFailure::Protocol(message), .. }) => {
            assert!(message.contains("or partial, which the host does not pass on"), "{message}")
        }
        other => panic!("expected the encoded answer to be refused, got {other:?}"),
    }

    // A client-auth endpoint on a site only the configuration adds is refused,
    // unless the operator's configuration names it.
    let claimed = hostile.validate_config(&json!({"mode": "claim-endpoint"}).to_string()).await.unwrap_err();
    assert!(matches!(claimed, PluginError::BadOutput { .. }), "{claimed:?}");
    let named = json!({"mode": "claim-endpoint", "tokenUrl": "https://echo.test/token"});
    let validated = hostile.validate_config(&named.to_string()).await.unwrap();
    assert_eq!(validated.client_auth_endpoints, ["https://echo.test/token"]);
}

/// 1 (0.1.0). A plugin built against the first WIT names no endpoints: the secret
/// goes to its static site, never to one its configuration added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_plugin_sends_the_secret_to_its_static_site_only() {
    let provider = ScriptedServer::start(|_| Response::json(200, json!({}))).await;
    let elsewhere = ScriptedServer::start(|_| Response::json(200, json!({}))).await;
    let host = host_routing(
        &[("legacy.test", &provider.base_url), ("echo.test", &elsewhere.base_url)],
        PluginLimits::danger_test_minimum(),
    );
    let legacy = host.load(&test_plugins::wasm("legacy")).await.unwrap();
    assert_eq!(legacy.info().wit, "0.1.0");
    let validated = legacy.validate_config("{}").await.unwrap();
    let mut t = target(json!({}));
    t.hosts = validated.hosts;
    let issued = legacy.exchange_code(&t, "code-1", None).await.unwrap();
    assert_eq!(issued.access_token.expose(), "legacy-at-200");
    assert_eq!(provider.only("/token").form().get("client_secret").map(String::as_str), Some(CLIENT_SECRET));

    t.config = json!({"mode": "config-site"}).to_string();
    let error = legacy.exchange_code(&t, "code-2", None).await.unwrap_err();
    assert!(matches!(error, PluginError::SecretMisplaced { .. }), "{error:?}");
    assert!(elsewhere.requests().is_empty());
}

/// A server that holds every request until told to answer: a slow provider.
struct Hold {
    base_url: String,
    held: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Notify>,
}

async fn hold_server() -> Hold {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let (held, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Notify::new()));
    let (count, wake) = (held.clone(), release.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (count, wake) = (count.clone(), wake.clone());
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let released = wake.notified();
                count.fetch_add(1, Ordering::SeqCst);
                released.await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                    .await;
            });
        }
    });
    Hold { base_url, held, release }
}

/// 2. A flood of slow calls through one plugin takes its own bound of the shared
/// slots, not all of them: another plugin's call finishes while the flood is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_through_one_plugin_leaves_room_for_the_others() {
    let hold = hold_server().await;
    let limits = PluginLimits {
        max_concurrent_calls: 8,
        max_concurrent_calls_per_plugin: 4,
        ..PluginLimits::danger_test_minimum()
    };
    let host = Arc::new(host_routing(&[("hold.test", &hold.base_url)], limits));
    let hostile = host.load(&test_plugins::wasm("hostile")).await.unwrap();
    let google = first_party(&host, "google").await;
    let mut t = with_mode("hold");
    t.hosts = vec!["hold.test".into()];
    let flood: Vec<_> = (0..16)
        .map(|_| {
            let (hostile, t) = (hostile.clone(), t.clone());
            tokio::spawn(async move { hostile.identity(&t, &SecretString::new("at")).await })
        })
        .collect();
    while hold.held.load(Ordering::SeqCst) < 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let other =
        tokio::time::timeout(Duration::from_secs(10), google.authorize_url(&target(json!({})), params()))
            .await;
    assert!(other.is_ok_and(|url| url.is_ok()), "google's call waited behind the flood");
    assert_eq!(hold.held.load(Ordering::SeqCst), 4, "the flood ran at its own bound, the rest queued");
    hold.release.notify_waiters();
    for call in flood {
        // Released in waves of four: each wave waits for the next release.
        loop {
            hold.release.notify_waiters();
            if call.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        call.await.unwrap().unwrap();
    }
}

/// 3. Every value a plugin returns has a cap: over it, a typed plugin error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_past_their_caps_are_the_plugins_error() {
    let provider = ScriptedServer::start(|_| Response::json(200, json!({}))).await;
    let host = host_routing(&[("provider.test", &provider.base_url)], PluginLimits::danger_test_minimum());
    let hostile = host.load(&test_plugins::wasm("hostile")).await.unwrap();
    let huge_url = hostile.authorize_url(&with_mode("huge-url"), params()).await.unwrap_err();
    assert!(matches!(huge_url, PluginError::OverCap { limit: 8192, .. }), "{huge_url:?}");
    let huge_token = hostile.exchange_code(&with_mode("huge-token"), "code", None).await.unwrap_err();
    assert!(matches!(huge_token, PluginError::OverCap { limit: 8192, .. }), "{huge_token:?}");
    let headers =
        hostile.proxy_target(&with_mode("many-headers"), &SecretString::new("at")).await.unwrap_err();
    assert!(matches!(headers, PluginError::OverCap { limit: 32, .. }), "{headers:?}");
    assert!(huge_url.to_string().starts_with("PL0010"), "{huge_url}");

    // Entries that share one buffer cannot multiply what the host copies: the
    // copying stops at the crossing's budget, before any value is checked.
    let shared = hostile.validate_config(&json!({"mode": "shared-list"}).to_string()).await.unwrap_err();
    match shared {
        PluginError::OverCap { what, limit, .. } => {
            assert!(what.starts_with("more data in one answer"), "{what}");
            assert!(limit <= 4 << 20, "{limit}");
        }
        other => panic!("expected the copy to be cut off, got {other:?}"),
    }
}

/// 4. An id taken twice is refused, naming both; replacing a first-party plugin
/// takes the operator's word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_take_anothers_name() {
    let dir = tempfile::tempdir().unwrap();
    let impostor = test_plugins::wasm("impostor");
    std::fs::write(dir.path().join("a-impostor.wasm"), &impostor).unwrap();
    std::fs::write(dir.path().join("b-acme.wasm"), test_plugins::wasm("acme")).unwrap();
    std::fs::write(dir.path().join("c-acme-again.wasm"), test_plugins::wasm("acme")).unwrap();

    let host = host_routing(&[], PluginLimits::danger_test_minimum());
    let (_, github) = securix_plugins::FIRST_PARTY.iter().find(|(id, _)| *id == "github").unwrap();
    host.load_from(github, PluginSource::FirstParty).await.unwrap();
    let loaded = host.load_dir(dir.path()).await.unwrap();
    assert_eq!(loaded.iter().map(|p| p.info().id.as_str()).collect::<Vec<_>>(), ["acme"]);
    let github_now = host.get("github").unwrap();
    assert_eq!(
        github_now.info().allowed_hosts,
        ["github.com", "api.github.com"],
        "the first-party github stays"
    );
    let failed = host.failed();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[0].reason.contains("a-impostor.wasm") && failed[0].reason.contains("first-party"),
        "{failed:?}"
    );
    assert!(
        failed[1].reason.contains("c-acme-again.wasm") && failed[1].reason.contains("b-acme.wasm"),
        "{failed:?}"
    );

    let allowing = PluginHost::new(PluginHostOptions {
        replaceable: vec!["github".into()],
        ..PluginHostOptions::default()
    })
    .unwrap();
    allowing.load_from(github, PluginSource::FirstParty).await.unwrap();
    std::fs::remove_file(dir.path().join("c-acme-again.wasm")).unwrap();
    allowing.load_dir(dir.path()).await.unwrap();
    assert_eq!(
        allowing.get("github").unwrap().info().allowed_hosts,
        ["impostor.test"],
        "replaced, as allowed"
    );
    assert!(allowing.failed().is_empty());
}

/// 5. A file the host cannot run is left out: the others load, and calls for it
/// are a typed `Unavailable` naming it (503 `plugin-unavailable` over HTTP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_plugin_file_leaves_the_others_running() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme.wasm"), test_plugins::wasm("acme")).unwrap();
    std::fs::write(dir.path().join("future.wasm"), test_plugins::wasm("wrong_wit")).unwrap();
    std::fs::write(dir.path().join("junk.wasm"), b"not wasm").unwrap();
    let host = host_routing(&[], PluginLimits::danger_test_minimum());
    let loaded = host.load_dir(dir.path()).await.unwrap();
    assert_eq!(loaded.len(), 1);
    let failed = host.failed();
    assert_eq!(
        failed.iter().map(|f| (f.id.as_str(), f.code.as_str())).collect::<Vec<_>>(),
        [("future", "PL0006"), ("junk", "PL0007")]
    );
    match host.get("future") {
        Err(PluginError::Unavailable { plugin, reason }) => {
            assert_eq!(plugin, "future");
            assert!(reason.contains("9.0.0") && reason.contains("0.2.0"), "{reason}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(matches!(host.get("nothing"), Err(PluginError::UnknownPlugin(_))));
}

/// 6. A declared site admits its scheme, host and port only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_site_does_not_admit_another_port_or_scheme() {
    let provider = ScriptedServer::start(|_| Response::json(200, json!({}))).await;
    let host = host_routing(&[("provider.test", &provider.base_url)], PluginLimits::danger_test_minimum());
    let hostile = host.load(&test_plugins::wasm("hostile")).await.unwrap();
    for mode in ["other-port", "other-scheme"] {
        match hostile.authorize_url(&with_mode(mode), params()).await {
            Err(PluginError::Provider { failure: ProviderFailure::Protocol(message), .. }) => {
                assert!(message.contains("not allowed"), "{mode}: {message}")
            }
            other => panic!("{mode}: expected the fetch to be denied, got {other:?}"),
        }
    }
    let phished = hostile.authorize_url(&with_mode("phish-port"), params()).await.unwrap_err();
    assert!(matches!(phished, PluginError::BadOutput { .. }), "{phished:?}");
    assert!(provider.requests().is_empty());
    let odd = hostile.validate_config(&json!({"mode": "other-port-site"}).to_string()).await.unwrap();
    assert_eq!(odd.hosts, ["provider.test:8443"], "a site with a port stays one");
}
