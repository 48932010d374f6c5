//! Both flows end to end through the engine against a scripted OAuth provider,
//! every rejection path, refresh under concurrency, the background refresher,
//! imported token sets, actor crashes and restarts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use securix_engine::flows::import::Import;
use securix_engine::flows::oauth::pkce;
use securix_engine::flows::sessions::CreateSession;
use securix_engine::model::agent::Access;
use securix_engine::model::event;
use securix_engine::model::integration::IntegrationDraft;
use securix_engine::model::session::{Flow, SessionStatus};
use securix_engine::plugins::{FetchPolicy, PluginHost, PluginHostOptions, PluginLimits};
use securix_engine::policy::PolicyError;
use securix_engine::proxy::{ProxyBody, ProxyRequest};
use securix_engine::store::Store;
use securix_engine::util::clock::{ManualClock, Timestamp};
use securix_engine::util::secret::SecretString;
use securix_engine::vault::{MasterKey, VaultError};
use securix_engine::{Engine, EngineError, EngineSettings, Principal};
use serde_json::json;

use crate::support::counting_store::CountingBackend;
use crate::support::scripted::{Response, ScriptedServer};

const CLIENT_SECRET: &str = "flow-client-secret";
const BROWSER: &str = "browser-0123456789abcdef";
const START: Timestamp = Timestamp(1_800_000_000_000);

/// The provider's side: counts refreshes, rotates refresh tokens, echoes API calls.
struct Provider {
    server: ScriptedServer,
    refreshes: Arc<AtomicUsize>,
    /// When set, refresh answers `invalid_grant`.
    dead_grant: Arc<Mutex<bool>>,
    /// When set, refresh answers 503.
    down: Arc<Mutex<bool>>,
}

async fn provider(token_lifetime: u64) -> Provider {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let (dead_grant, down) = (Arc::new(Mutex::new(false)), Arc::new(Mutex::new(false)));
    let (counter, dead, unavailable) = (refreshes.clone(), dead_grant.clone(), down.clone());
    let server = ScriptedServer::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/token") => {
            let form = r.form();
            if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
                return Response::json(401, json!({"error": "invalid_client"}));
            }
            match form.get("grant_type").map(String::as_str) {
                // A provider (or a plugin) handing back a token past its cap.
                Some("authorization_code") if form.get("code").map(String::as_str) == Some("huge-code") => {
                    Response::json(200, json!({"access_token": "a".repeat(9000), "token_type": "Bearer"}))
                }
                Some("authorization_code") if form.get("code").map(String::as_str) == Some("good-code") => Response::json(200, json!({
                    "access_token": "at-0", "refresh_token": "rt-0", "expires_in": token_lifetime, "token_type": "Bearer", "scope": "profile email"
                })),
                Some("refresh_token") if *dead.lock().unwrap() => Response::json(400, json!({"error": "invalid_grant"})),
                Some("refresh_token") if *unavailable.lock().unwrap() => Response::json(503, json!({})),
                Some("refresh_token") => {
                    // Slow enough that concurrent callers really pile up behind the refresh.
                    std::thread::sleep(Duration::from_millis(50));
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    let expected = format!("rt-{}", n - 1);
                    if form.get("refresh_token") != Some(&expected) {
                        return Response::json(400, json!({"error": "invalid_grant", "error_description": "stale refresh token"}));
                    }
                    Response::json(200, json!({"access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}"), "expires_in": token_lifetime}))
                }
                _ => Response::json(400, json!({"error": "invalid_grant"})),
            }
        }
        // Only the tokens it issued are anyone's.
        ("POST", "/revoke") => Response::json(200, json!({})),
        ("GET", "/userinfo") if r.header("authorization").is_some_and(|a| a.starts_with("Bearer at-")) => {
            Response::json(200, json!({"sub": "acct-1", "email": "jo@example.com"}))
        }
        ("GET", "/userinfo") => Response::json(401, json!({"error": "invalid_token"})),
        (_, path) if path.starts_with("/api/") => Response::json(200, json!({
            "path": path,
            "authorization": r.header("authorization"),
            "cookie": r.header("cookie"),
            "custom": r.header("x-custom"),
            "body": String::from_utf8_lossy(&r.body),
        })),
        _ => Response::json(404, json!({})),
    })
    .await;
    Provider { server, refreshes, dead_grant, down }
}

struct Setup {
    engine: Engine,
    principal: Principal,
    clock: ManualClock,
}

async fn plugin_host() -> Arc<PluginHost> {
    let cache_dir =
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasmtime-test-cache"));
    let fetch = FetchPolicy { allow_loopback_http: true, ..FetchPolicy::default() };
    let host = PluginHost::new(PluginHostOptions {
        limits: PluginLimits::danger_test_minimum(),
        fetch,
        cache_dir,
        ..PluginHostOptions::default()
    })
    .unwrap();
    let (_, wasm) = securix_plugins::FIRST_PARTY.iter().find(|(id, _)| *id == "oauth2").unwrap();
    host.load(wasm).await.unwrap();
    Arc::new(host)
}

fn settings() -> EngineSettings {
    EngineSettings {
        public_url: "https://securix.test".into(),
        allow_loopback_http: true,
        wrong_codes_per_client: 3,
        ..EngineSettings::default()
    }
}

async fn engine_on(store: Store, master: MasterKey, clock: ManualClock) -> Engine {
    engine_with(store, master, clock, settings()).await
}

async fn engine_with(
    store: Store,
    master: MasterKey,
    clock: ManualClock,
    settings: EngineSettings,
) -> Engine {
    Engine::builder()
        .store(store)
        .master_key(master)
        .plugins(plugin_host().await)
        .clock(Arc::new(clock))
        .settings(settings)
        .build()
        .await
        .unwrap()
}

/// The integration `acme` at the provider `base`, its API under `api_path`.
fn acme_integration(base: &str, api_path: &str) -> IntegrationDraft {
    IntegrationDraft {
        key: "acme".into(),
        provider: "oauth2".into(),
        client_id: "client-1".into(),
        client_secret: SecretString::new(CLIENT_SECRET),
        scopes: vec!["profile".into()],
        config: json!({
            "authorizationEndpoint": format!("{base}/authorize"),
            "tokenEndpoint": format!("{base}/token"),
            "userinfoEndpoint": format!("{base}/userinfo"),
            "apiBaseUrl": format!("{base}{api_path}"),
            "issuer": base,
        }),
    }
}

async fn setup_on(provider: &Provider, store: Store, master: MasterKey) -> Setup {
    setup_with(provider, store, master, settings()).await
}

async fn setup_with(provider: &Provider, store: Store, master: MasterKey, settings: EngineSettings) -> Setup {
    let clock = ManualClock::new(START);
    let engine = engine_with(store, master, clock.clone(), settings).await;
    let project = engine.create_project("Acme Inc").await.unwrap();
    let (issued, key) = engine.issue_api_key(&project.id, "backend").await.unwrap();
    let principal = engine.authenticate(key.expose()).await.unwrap();
    // The key's use is recorded off the request's path: let it land, so a test
    // starts from a store nothing is still writing to.
    while engine.api_key(&project.id, &issued.id).await.unwrap().last_used_at.is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    engine.put_agent(&project.id, "cli", Access::default()).await.unwrap();
    engine.put_agent(&project.id, "restricted", Access::to(Some(vec!["other".into()]))).await.unwrap();
    let draft = acme_integration(&provider.server.base_url, "/api");
    let view = engine.put_integration(&project.id, draft).await.unwrap();
    assert!(!serde_json::to_string(&view).unwrap().contains(CLIENT_SECRET));
    engine.set_origins(&project.id, vec!["https://app.example".into()]).await.unwrap();
    Setup { engine, principal, clock }
}

async fn setup(provider: &Provider) -> Setup {
    setup_on(provider, Store::memory(), MasterKey::generate()).await
}

fn device_request() -> CreateSession {
    CreateSession {
        agent_id: "cli".into(),
        entity_id: "user_123".into(),
        flow: Some(Flow::Device),
        providers: [("acme".to_string(), vec![])].into_iter().collect(),
        ..CreateSession::default()
    }
}

fn popup_request(sxc: &str) -> CreateSession {
    CreateSession {
        flow: Some(Flow::Popup),
        sxc_challenge: Some(pkce::s256(sxc)),
        origin: Some("https://app.example".into()),
        ..device_request()
    }
}

fn query_param(url: &str, name: &str) -> String {
    crate::support::scripted::parse_pairs(url.split_once('?').unwrap().1).remove(name).unwrap()
}

/// The user's browser: consent at the provider, which redirects back with a code.
async fn authorize(s: &Setup, session_id: &str, browser: &str) -> String {
    let url = s
        .engine
        .begin_authorization(session_id, "acme", browser, &Default::default())
        .await
        .unwrap()
        .redirect()
        .unwrap();
    assert_eq!(query_param(&url, "redirect_uri"), "https://securix.test/oauth/callback");
    assert_eq!(query_param(&url, "code_challenge_method"), "S256");
    query_param(&url, "state")
}

async fn connected_device_session(s: &Setup) -> String {
    let created = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    let code = created.device_auth_code.unwrap();
    let session_id = s.engine.enter_device_code(&code, "10.0.0.1", BROWSER).await.unwrap();
    let state = authorize(s, &session_id, BROWSER).await;
    s.engine.oauth_callback(&state, Some("good-code"), None, None, BROWSER).await.unwrap();
    session_id
}

async fn proxy_get(s: &Setup, path: &str) -> Result<(u16, serde_json::Value), EngineError> {
    let request = ProxyRequest {
        method: hyper::Method::GET,
        path: path.into(),
        query: Some("limit=5".into()),
        headers: [
            ("authorization", "Bearer the-apps-own-key"),
            ("cookie", "session=abc"),
            ("x-custom", "kept"),
        ]
        .into_iter()
        .map(|(name, value)| (HeaderName::from_static(name), HeaderValue::from_static(value)))
        .collect(),
        body: ProxyBody::empty(),
        connection_id: None,
    };
    let response = s.engine.proxy(&s.principal, "cli", "user_123", "acme", request).await?;
    let mut body = Vec::new();
    let mut stream = response.body;
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk?);
    }
    Ok((response.status, serde_json::from_slice(&body).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_end_to_end_then_proxy() {
    let p = provider(3600).await;
    let s = setup(&p).await;
    let created = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    assert_eq!(created.interval, Some(5));
    assert_eq!(created.auth_url, "https://securix.test/device");
    let code = created.device_auth_code.clone().unwrap();
    assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "{code}");
    // Typed in lower case with spaces: still the code.
    let typed = format!(" {} ", code.to_lowercase().replace('-', " - "));
    let session_id = s.engine.enter_device_code(&typed, "10.0.0.1", BROWSER).await.unwrap();
    assert_eq!(session_id, created.session_id);
    let context = s.engine.consent_context(&session_id, BROWSER).await.unwrap();
    assert_eq!(
        (context.project_name.as_str(), context.agent_id.as_str(), context.entity_id.as_str()),
        ("Acme Inc", "cli", "user_123")
    );
    assert_eq!(context.providers[0].scopes, ["profile"]);

    let url = s
        .engine
        .begin_authorization(&session_id, "acme", BROWSER, &Default::default())
        .await
        .unwrap()
        .redirect()
        .unwrap();
    let state = query_param(&url, "state");
    let challenge = query_param(&url, "code_challenge");
    let outcome = s.engine.oauth_callback(&state, Some("good-code"), None, None, BROWSER).await.unwrap();
    assert_eq!(outcome.status, SessionStatus::Completed);
    // PKCE: the verifier the provider got hashes to the challenge the browser carried.
    let verifier = p.server.only("/token").form().remove("code_verifier").unwrap();
    assert_eq!(pkce::s256(&verifier), challenge);

    let status =
        s.engine.session_status(&s.principal, &session_id, Some(Duration::from_secs(1))).await.unwrap();
    assert_eq!(status.status, SessionStatus::Completed);
    let connection_id = status.providers["acme"].connection_id.clone().unwrap();
    let listed = s.engine.list_connections(&s.principal, "user_123").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].connection_id, connection_id);
    assert_eq!(listed[0].scopes, ["profile", "email"], "granted scopes recorded");
    let shown = serde_json::to_string(&listed).unwrap() + &serde_json::to_string(&status).unwrap();
    assert!(!shown.contains("at-0") && !shown.contains("rt-0"), "{shown}");

    let tx = s.engine.store().begin().await.unwrap();
    let events = event::list(&tx, &s.principal.project_id, None, 100).await.unwrap();
    let kinds: Vec<String> =
        events.iter().map(|e| serde_json::to_value(e.kind).unwrap().as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["connection.created", "session.completed"]);
    assert!(!serde_json::to_string(&events).unwrap().contains("at-0"));

    let (status, echoed) = proxy_get(&s, "me/profile").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(echoed["path"], "/api/me/profile");
    assert_eq!(echoed["authorization"], "Bearer at-0", "the vaulted token, not the caller's");
    assert_eq!(echoed["cookie"], serde_json::Value::Null, "the caller's cookie is dropped");
    assert_eq!(echoed["custom"], "kept");
    for bad in ["../token", "a//b", "a%2Fb", "%2e%2e/token"] {
        assert!(matches!(proxy_get(&s, bad).await, Err(EngineError::Invalid(_))), "{bad}");
    }
    let restricted = s
        .engine
        .proxy(
            &s.principal,
            "restricted",
            "user_123",
            "acme",
            ProxyRequest {
                method: hyper::Method::GET,
                path: "me".into(),
                query: None,
                headers: HeaderMap::new(),
                body: ProxyBody::empty(),
                connection_id: None,
            },
        )
        .await;
    assert!(matches!(restricted, Err(EngineError::AgentNotAllowed { .. })));

    // Reconnecting the same account updates the connection instead of duplicating it.
    connected_device_session(&s).await;
    let again = s.engine.list_connections(&s.principal, "user_123").await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].connection_id, connection_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_rejections() {
    let p = provider(3600).await;
    let s = setup(&p).await;
    let created = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    let code = created.device_auth_code.clone().unwrap();

    // Polling faster than the interval slows the client down.
    s.engine.session_status(&s.principal, &created.session_id, None).await.unwrap();
    let fast = s.engine.session_status(&s.principal, &created.session_id, None).await.unwrap_err();
    assert!(matches!(fast, EngineError::SlowDown { interval: 10 }), "{fast}");

    // The first browser to enter the code owns it.
    s.engine.enter_device_code(&code, "10.0.0.1", BROWSER).await.unwrap();
    let other =
        s.engine.enter_device_code(&code, "10.0.0.9", "another-browser-0123456789").await.unwrap_err();
    assert!(matches!(other, EngineError::OtherBrowser(_)), "{other}");
    let hijack = s
        .engine
        .begin_authorization(&created.session_id, "acme", "another-browser-0123456789", &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(hijack, EngineError::OtherBrowser(_)), "{hijack}");

    // Wrong codes are counted per client address.
    const GUESSER: &str = "guessing-browser-0123456789";
    for wrong in ["BBBB-BBBB", "not a code", "CCCC-CCCC"] {
        assert!(matches!(
            s.engine.enter_device_code(wrong, "10.6.6.6", GUESSER).await,
            Err(EngineError::NotFound(_))
        ));
    }
    let limited = s.engine.enter_device_code(&code, "10.6.6.6", GUESSER).await.unwrap_err();
    assert!(matches!(limited, EngineError::RateLimited), "{limited}");

    // A state is used once; a made-up state finds nothing.
    let state = authorize(&s, &created.session_id, BROWSER).await;
    assert!(matches!(
        s.engine.oauth_callback("made-up", Some("good-code"), None, None, BROWSER).await,
        Err(EngineError::NotFound(_))
    ));
    let base = p.server.base_url.clone();
    let mixup = s
        .engine
        .oauth_callback(&state, Some("good-code"), None, Some("https://evil.example"), BROWSER)
        .await
        .unwrap_err();
    assert!(matches!(mixup, EngineError::Forbidden(_)), "a response from another issuer is refused: {mixup}");
    let state = authorize(&s, &created.session_id, BROWSER).await;
    s.engine.oauth_callback(&state, Some("good-code"), None, Some(&base), BROWSER).await.unwrap();
    assert!(
        matches!(
            s.engine.oauth_callback(&state, Some("good-code"), None, None, BROWSER).await,
            Err(EngineError::NotFound(_))
        ),
        "replayed state"
    );

    // Sessions expire on their own; their secrets go with them.
    let late = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    let late_code = late.device_auth_code.unwrap();
    s.engine.enter_device_code(&late_code, "10.0.0.2", BROWSER).await.unwrap();
    let late_state = authorize(&s, &late.session_id, BROWSER).await;
    s.clock.advance_millis(601_000);
    assert!(s.engine.sweep_expired().await.unwrap() >= 1);
    let status = s.engine.session_status(&s.principal, &late.session_id, None).await.unwrap();
    assert_eq!(status.status, SessionStatus::Expired);
    assert!(
        matches!(
            s.engine.oauth_callback(&late_state, Some("good-code"), None, None, BROWSER).await,
            Err(EngineError::NotFound(_))
        ),
        "the verifier was purged"
    );
    assert!(matches!(
        s.engine.enter_device_code(&late_code, "10.0.0.2", BROWSER).await,
        Err(EngineError::NotFound(_))
    ));
    let tx = s.engine.store().begin().await.unwrap();
    let kinds: Vec<_> = event::list(&tx, &s.principal.project_id, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&event::EventKind::SessionExpired));

    // A session of another project is not found, like an unknown one.
    let other_project = s.engine.create_project("Other").await.unwrap();
    let (_, other_key) = s.engine.issue_api_key(&other_project.id, "k").await.unwrap();
    let stranger = s.engine.authenticate(other_key.expose()).await.unwrap();
    assert!(matches!(
        s.engine.session_status(&stranger, &created.session_id, None).await,
        Err(EngineError::NotFound(_))
    ));
    assert!(s.engine.list_connections(&stranger, "user_123").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popup_flow_with_the_sxc_handshake() {
    let p = provider(3600).await;
    let s = setup(&p).await;
    let sxc = pkce::random_token();
    let bad_origin =
        CreateSession { origin: Some("https://evil.example".into()), ..popup_request(sxc.expose()) };
    assert!(matches!(
        s.engine.create_session(&s.principal, bad_origin).await,
        Err(EngineError::Forbidden(_))
    ));
    let no_challenge = CreateSession { sxc_challenge: None, ..popup_request(sxc.expose()) };
    assert!(matches!(
        s.engine.create_session(&s.principal, no_challenge).await,
        Err(EngineError::Invalid(_))
    ));

    let created = s.engine.create_session(&s.principal, popup_request(sxc.expose())).await.unwrap();
    assert_eq!(created.auth_url, format!("https://securix.test/connect/{}", created.session_id));
    let other_sxc = pkce::random_token();
    let other = s.engine.create_session(&s.principal, popup_request(other_sxc.expose())).await.unwrap();
    let state = authorize(&s, &created.session_id, BROWSER).await;
    let outcome = s.engine.oauth_callback(&state, Some("good-code"), None, None, BROWSER).await.unwrap();
    assert_eq!(outcome.status, SessionStatus::AwaitingConfirmation);
    assert_eq!(outcome.origin.as_deref(), Some("https://app.example"));
    assert!(
        s.engine.list_connections(&s.principal, "user_123").await.unwrap().is_empty(),
        "nothing is active before confirm"
    );

    let wrong = s.engine.confirm_session(&s.principal, &created.session_id, "not-the-sxc").await.unwrap_err();
    assert!(matches!(wrong, EngineError::Forbidden(_)));
    let cross =
        s.engine.confirm_session(&s.principal, &created.session_id, other_sxc.expose()).await.unwrap_err();
    assert!(matches!(cross, EngineError::Forbidden(_)), "another session's sxc");
    assert!(s.engine.list_connections(&s.principal, "user_123").await.unwrap().is_empty());

    let confirmed = s.engine.confirm_session(&s.principal, &created.session_id, sxc.expose()).await.unwrap();
    assert_eq!(confirmed.status, SessionStatus::Completed);
    assert_eq!(confirmed.connections.len(), 1);
    assert!(!serde_json::to_string(&confirmed).unwrap().contains("at-0"));
    let replay = s.engine.confirm_session(&s.principal, &created.session_id, sxc.expose()).await.unwrap_err();
    assert!(matches!(replay, EngineError::Forbidden(_)), "a replayed sxc: {replay}");
    assert_eq!(s.engine.list_connections(&s.principal, "user_123").await.unwrap().len(), 1);

    // Confirming too late activates nothing.
    let other_state = authorize(&s, &other.session_id, BROWSER).await;
    s.engine.oauth_callback(&other_state, Some("good-code"), None, None, BROWSER).await.unwrap();
    s.clock.advance_millis(601_000);
    let late =
        s.engine.confirm_session(&s.principal, &other.session_id, other_sxc.expose()).await.unwrap_err();
    assert!(matches!(late, EngineError::Expired(_)), "{late}");

    // A user who says no ends the session as denied.
    let sxc3 = pkce::random_token();
    let denied = s.engine.create_session(&s.principal, popup_request(sxc3.expose())).await.unwrap();
    let state = authorize(&s, &denied.session_id, BROWSER).await;
    let outcome = s.engine.oauth_callback(&state, None, Some("access_denied"), None, BROWSER).await.unwrap();
    assert_eq!(outcome.status, SessionStatus::Denied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_host_list_holds_for_the_proxys_base_url_too() {
    let p = provider(3600).await;
    let elsewhere =
        EngineSettings { allowed_hosts: Some(["api.partner.example".into()].into()), ..settings() };
    let s = setup_with(&p, Store::memory(), MasterKey::generate(), elsewhere).await;
    connected_device_session(&s).await;
    let refused = proxy_get(&s, "whoami").await.unwrap_err();
    assert!(matches!(refused, EngineError::Refused(PolicyError::HostNotAllowed(_))), "{refused}");
    assert!(p.server.requests().iter().all(|r| !r.path.starts_with("/api")), "nothing reached the API");

    let listed = EngineSettings { allowed_hosts: Some(["127.0.0.1".into()].into()), ..settings() };
    let s = setup_with(&p, Store::memory(), MasterKey::generate(), listed).await;
    connected_device_session(&s).await;
    assert_eq!(proxy_get(&s, "whoami").await.unwrap().0, 200);
}

/// Every key in the store, to see what a flow leaves behind.
async fn store_keys(s: &Setup) -> usize {
    let tx = s.engine.store().begin().await.unwrap();
    tx.get_range(&[0x00], &[0xff], Default::default()).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_and_its_provider_step_belong_to_the_browser_that_opened_them() {
    const OTHER: &str = "another-browser-0123456789";
    let p = provider(3600).await;
    let s = setup(&p).await;
    let created = s.engine.create_session(&s.principal, popup_request("sxc-one")).await.unwrap();
    let id = &created.session_id;
    // Looking binds nothing; the first browser to act on the page owns it, and
    // another then gets a refusal and changes nothing.
    s.engine.consent_context(id, OTHER).await.unwrap();
    let state = authorize(&s, id, BROWSER).await;
    let stranger = s.engine.consent_context(id, OTHER).await.unwrap_err();
    assert!(matches!(stranger, EngineError::OtherBrowser(_)), "{stranger}");
    assert!(matches!(s.engine.deny_session(id, OTHER).await, Err(EngineError::OtherBrowser(_))));

    // The provider's answer carried to another browser is refused, and the step stays
    // open for the browser that started it.
    let carried = s.engine.oauth_callback(&state, Some("good-code"), None, None, OTHER).await.unwrap_err();
    assert!(matches!(carried, EngineError::OtherBrowser(_)), "{carried}");
    let outcome = s.engine.oauth_callback(&state, Some("good-code"), None, None, BROWSER).await.unwrap();
    assert_eq!(outcome.status, SessionStatus::AwaitingConfirmation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_a_provider_again_replaces_the_step_instead_of_adding_one() {
    let p = provider(3600).await;
    let s = setup(&p).await;
    let created = s.engine.create_session(&s.principal, popup_request("sxc-two")).await.unwrap();
    let first = authorize(&s, &created.session_id, BROWSER).await;
    let after_one = store_keys(&s).await;
    let mut last = first.clone();
    for _ in 0..50 {
        last = authorize(&s, &created.session_id, BROWSER).await;
    }
    assert_eq!(store_keys(&s).await, after_one, "the store does not grow with each press");
    let replaced = s.engine.oauth_callback(&first, Some("good-code"), None, None, BROWSER).await.unwrap_err();
    assert!(matches!(replaced, EngineError::NotFound(_)), "{replaced}");
    s.engine.oauth_callback(&last, Some("good-code"), None, None, BROWSER).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_proxy_calls_on_an_expired_token_refresh_once() {
    let p = provider(60).await;
    let s = setup(&p).await;
    connected_device_session(&s).await;
    s.clock.advance_millis(61_000);
    let calls = (0..50).map(|_| {
        let s = Setup { engine: s.engine.clone(), principal: s.principal.clone(), clock: s.clock.clone() };
        tokio::spawn(async move {
            proxy_get(&s, "me")
                .await
                .map(|(_, body)| body["authorization"].as_str().unwrap_or_default().to_owned())
        })
    });
    let seen: Vec<String> =
        futures_util::future::join_all(calls).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(p.refreshes.load(Ordering::SeqCst), 1, "exactly one refresh at the provider");
    assert!(seen.iter().all(|auth| auth == "Bearer at-1"), "{seen:?}");
    // Every token use is audited; the batched audit log has them all once flushed.
    s.engine.flush_audit_log().await;
    let audit = s.engine.audit_trail(&s.principal, "user_123", 1000).await.unwrap();
    assert_eq!(audit.len(), 50, "one audit record per proxy call");

    // The rotated refresh token was stored: the next refresh presents rt-1 and succeeds.
    s.clock.advance_millis(61_000);
    assert_eq!(proxy_get(&s, "me").await.unwrap().1["authorization"], "Bearer at-2");
    assert_eq!(p.refreshes.load(Ordering::SeqCst), 2);

    // A dead grant: reauth_required, with its event, and the proxy says so.
    *p.dead_grant.lock().unwrap() = true;
    s.clock.advance_millis(61_000);
    assert!(matches!(proxy_get(&s, "me").await, Err(EngineError::ReauthRequired)));
    let listed = s.engine.list_connections(&s.principal, "user_123").await.unwrap();
    assert_eq!(serde_json::to_value(listed[0].status).unwrap(), "reauth_required");
    let tx = s.engine.store().begin().await.unwrap();
    let events = event::list(&tx, &s.principal.project_id, None, 100).await.unwrap();
    assert!(events.iter().any(|e| e.kind == event::EventKind::ConnectionReauthRequired));
    assert_eq!(events.iter().filter(|e| e.kind == event::EventKind::ConnectionRefreshed).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_actor_restarts_and_the_flow_completes() {
    let p = provider(60).await;
    let s = setup(&p).await;
    let created = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    s.engine
        .enter_device_code(created.device_auth_code.as_deref().unwrap(), "10.0.0.1", BROWSER)
        .await
        .unwrap();
    let state = authorize(&s, &created.session_id, BROWSER).await;
    s.engine.danger_test_crash_session_actor(&created.session_id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.engine.oauth_callback(&state, Some("good-code"), None, None, BROWSER).await.unwrap();
    // The session actor comes back with its state from the store.
    let view = s.engine.session_status(&s.principal, &created.session_id, None).await.unwrap();
    assert_eq!(view.status, SessionStatus::Completed);

    s.engine.danger_test_crash_entity_actor(&s.principal.project_id, "user_123").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.clock.advance_millis(61_000);
    assert_eq!(proxy_get(&s, "me").await.unwrap().1["authorization"], "Bearer at-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_continues_the_session() {
    let p = provider(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("securix.redb");
    let master = MasterKey::generate();
    let store = Store::open_redb(&path, Default::default()).unwrap();
    let s = setup_on(&p, store, master.clone()).await;
    let created = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    s.engine
        .enter_device_code(created.device_auth_code.as_deref().unwrap(), "10.0.0.1", BROWSER)
        .await
        .unwrap();
    let state = authorize(&s, &created.session_id, BROWSER).await;
    let principal = s.principal.clone();
    s.engine.shutdown().await;
    drop(s);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A new process on the same file and key.
    let store = Store::open_redb(&path, Default::default()).unwrap();
    let engine = engine_on(store, master, ManualClock::new(START)).await;
    engine.oauth_callback(&state, Some("good-code"), None, None, BROWSER).await.unwrap();
    let view = engine.session_status(&principal, &created.session_id, None).await.unwrap();
    assert_eq!(view.status, SessionStatus::Completed);
    assert_eq!(engine.list_connections(&principal, "user_123").await.unwrap().len(), 1);
}

/// Actors, the sweeper and the delivery worker hold the rooms weakly, so dropping
/// the last `Engine`, without `shutdown`, lets go of the store (a redb file opens once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_engine_lets_go_of_the_store() {
    let p = provider(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("securix.redb");
    let store = Store::open_redb(&path, Default::default()).unwrap();
    let s = setup_on(&p, store, MasterKey::generate()).await;
    // Wake an actor of each kind: an entity's, a session's and the outboxes'.
    connected_device_session(&s).await;
    assert_eq!(proxy_get(&s, "me").await.unwrap().0, 200);
    let created = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    s.engine.session_status(&s.principal, &created.session_id, None).await.unwrap();
    tokio::time::sleep(s.engine.settings().webhook_poll * 2).await;
    assert_eq!(s.engine.active_actors().await, (1, 1));
    assert!(Store::open_redb(&path, Default::default()).is_err(), "the file is the engine's while it lives");

    drop(s);
    let mut reopened = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if Store::open_redb(&path, Default::default()).is_ok() {
            reopened = true;
            break;
        }
    }
    assert!(reopened, "something still holds the dropped engine's store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_engine_refuses_token_work() {
    let p = provider(3600).await;
    let engine = Engine::builder()
        .store(Store::memory())
        .plugins(plugin_host().await)
        .settings(settings())
        .build()
        .await
        .unwrap();
    let project = engine.create_project("Sealed").await.unwrap();
    let draft = IntegrationDraft {
        key: "acme".into(),
        provider: "oauth2".into(),
        client_id: "c".into(),
        client_secret: SecretString::new(CLIENT_SECRET),
        scopes: vec![],
        config: json!({"authorizationEndpoint": format!("{}/authorize", p.server.base_url), "tokenEndpoint": format!("{}/token", p.server.base_url)}),
    };
    let error = engine.put_integration(&project.id, draft).await.unwrap_err();
    assert!(matches!(error, EngineError::Vault(VaultError::Sealed)), "{error}");
    assert!(!error.to_string().contains(CLIENT_SECRET));
}

/// Three engines on one store stand for three nodes: calls spread over all of them
/// on an expired token still cause exactly one refresh at the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_engines_on_one_store_refresh_a_connection_once() {
    let p = provider(60).await;
    let (store, master) = (Store::memory(), MasterKey::generate());
    let s = setup_on(&p, store.clone(), master.clone()).await;
    connected_device_session(&s).await;
    let mut nodes = vec![s.engine.clone()];
    for _ in 0..2 {
        nodes.push(engine_on(store.clone(), master.clone(), s.clock.clone()).await);
    }
    s.clock.advance_millis(61_000);
    let calls = (0..48).map(|i| {
        let node =
            Setup { engine: nodes[i % 3].clone(), principal: s.principal.clone(), clock: s.clock.clone() };
        tokio::spawn(async move {
            proxy_get(&node, "me")
                .await
                .map(|(_, body)| body["authorization"].as_str().unwrap_or_default().to_owned())
        })
    });
    let seen: Vec<String> =
        futures_util::future::join_all(calls).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(p.refreshes.load(Ordering::SeqCst), 1, "exactly one refresh, cluster-wide");
    assert!(seen.iter().all(|auth| auth == "Bearer at-1"), "{seen:?}");
}

/// A proxy call's plan is remembered (the second call reuses it), and a change
/// made through another engine on the same store — another node — is seen by the
/// very next call: an agent narrowed, an integration moved, a connection deleted,
/// an API key revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_proxy_plans_never_outlive_what_they_rely_on() {
    let p = provider(3600).await;
    let (store, master) = (Store::memory(), MasterKey::generate());
    let s = setup_on(&p, store.clone(), master.clone()).await;
    connected_device_session(&s).await;
    let other = engine_on(store, master, s.clock.clone()).await;
    let project = s.principal.project_id.clone();

    assert_eq!(proxy_get(&s, "me").await.unwrap().1["path"], "/api/me");
    let before = s.engine.cache_stats().proxy_plans;
    assert_eq!(proxy_get(&s, "me").await.unwrap().1["path"], "/api/me");
    let after = s.engine.cache_stats().proxy_plans;
    assert_eq!((after.hits - before.hits, after.misses - before.misses), (1, 0), "the plan was reused");

    other.put_agent(&project, "cli", Access::to(Some(vec!["other".into()]))).await.unwrap();
    assert!(matches!(proxy_get(&s, "me").await, Err(EngineError::AgentNotAllowed { .. })));
    other.put_agent(&project, "cli", Access::default()).await.unwrap();
    assert_eq!(proxy_get(&s, "me").await.unwrap().0, 200);

    let moved = acme_integration(&p.server.base_url, "/api/v2");
    other.put_integration(&project, moved).await.unwrap();
    assert_eq!(proxy_get(&s, "me").await.unwrap().1["path"], "/api/v2/me");

    let connection = s.engine.list_connections(&s.principal, "user_123").await.unwrap().remove(0);
    other.delete_connection(&s.principal, "user_123", &connection.connection_id).await.unwrap();
    assert!(matches!(proxy_get(&s, "me").await, Err(EngineError::NotFound("connection"))));

    let (issued, key) = other.issue_api_key(&project, "second").await.unwrap();
    for _ in 0..2 {
        assert_eq!(s.engine.authenticate(key.expose()).await.unwrap().api_key_id, issued.id.as_str().into());
    }
    assert!(s.engine.cache_stats().api_keys.hits >= 1, "the key was remembered");
    other.revoke_api_key(&project, &issued.id).await.unwrap();
    assert!(matches!(s.engine.authenticate(key.expose()).await, Err(EngineError::Unauthorized)));
}

/// While the store has committed nothing since, a remembered API key or proxy plan
/// is used without reading the access epochs again (on stores with versions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_answers_skip_the_epoch_reads_while_nothing_was_committed() {
    let p = provider(3600).await;
    let (backend, epoch_reads) = CountingBackend::new();
    let s = setup_on(&p, Store::new(backend), MasterKey::generate()).await;
    connected_device_session(&s).await;
    let project = s.principal.project_id.clone();
    let (issued, key) = s.engine.issue_api_key(&project, "second").await.unwrap();
    s.engine.authenticate(key.expose()).await.unwrap();
    // Its first use is recorded (`lastUsedAt`) off the request's path, in a commit of
    // its own; the next use after that commit reads the epoch once more.
    while s.engine.api_key(&project, &issued.id).await.unwrap().last_used_at.is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.engine.authenticate(key.expose()).await.unwrap();
    let before = epoch_reads.count();
    s.engine.authenticate(key.expose()).await.unwrap();
    assert_eq!(epoch_reads.count(), before, "the key's epoch was read at this version already");

    // Each call's audit record commits a few milliseconds later, and the first call
    // after that commit reads the epochs again; calls in between do not.
    const CALLS: usize = 20;
    proxy_get(&s, "me").await.unwrap();
    let before = epoch_reads.count();
    for _ in 0..CALLS {
        assert_eq!(proxy_get(&s, "me").await.unwrap().0, 200);
    }
    let reads = epoch_reads.count() - before;
    assert!(reads < 2 * CALLS, "{reads} epoch reads for {CALLS} calls: every call read both epochs");

    // A commit moves the version: the key is checked again, and a revocation holds.
    s.engine.revoke_api_key(&project, &issued.id).await.unwrap();
    assert!(matches!(s.engine.authenticate(key.expose()).await, Err(EngineError::Unauthorized)));
}

/// A token past its cap fails the code exchange with a plugin error, and the
/// session ends `failed` with that reason instead of staying `authorizing` (#29).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_past_its_cap_fails_the_session_with_the_reason() {
    let provider = provider(3600).await;
    let s = setup(&provider).await;
    let created = s.engine.create_session(&s.principal, device_request()).await.unwrap();
    let code = created.device_auth_code.unwrap();
    let session_id = s.engine.enter_device_code(&code, "10.0.0.1", BROWSER).await.unwrap();
    let state = authorize(&s, &session_id, BROWSER).await;
    let outcome = s.engine.oauth_callback(&state, Some("huge-code"), None, None, BROWSER).await.unwrap();
    assert_eq!(outcome.status, SessionStatus::Failed);
    let tx = s.engine.store().begin().await.unwrap();
    let record = securix_engine::model::session::get(&tx, &session_id).await.unwrap().unwrap();
    assert_eq!(record.status, SessionStatus::Failed);
    let reason = record.error.unwrap_or_default();
    assert!(reason.contains("PL0010 plugin `oauth2` returned an access token"), "{reason}");
    assert!(!reason.contains(&"a".repeat(100)), "the value itself is not kept: {reason}");
}

/// A configuration the plugin refuses is the operator's mistake (400), not a
/// provider failure (502), and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_the_plugin_refuses_is_the_operators_to_fix() {
    let provider = provider(3600).await;
    let s = setup(&provider).await;
    let draft = IntegrationDraft {
        key: "broken".into(),
        config: json!({"clientAuth": "telepathy"}),
        ..acme_integration("https://x.test", "/api")
    };
    let refused = s.engine.put_integration(&s.principal.project_id, draft).await.unwrap_err();
    assert!(matches!(refused, EngineError::Invalid(_)), "{refused:?}");
    let listed = s.engine.list_integrations(&s.principal.project_id).await.unwrap();
    assert!(listed.iter().all(|i| i.integration != "broken"));
}

/// How many refresh grants the provider has been asked for (answered or not).
fn refresh_grants(p: &Provider) -> usize {
    let grant = |r: &crate::support::scripted::Request| {
        r.path == "/token" && r.form().get("grant_type").map(String::as_str) == Some("refresh_token")
    };
    p.server.requests().iter().filter(|r| grant(r)).count()
}

async fn connection_status(s: &Setup) -> serde_json::Value {
    let listed = s.engine.list_connections(&s.principal, "user_123").await.unwrap();
    serde_json::to_value(listed[0].status).unwrap()
}

async fn reauth_events(s: &Setup) -> usize {
    let tx = s.engine.store().begin().await.unwrap();
    let events = event::list(&tx, &s.principal.project_id, None, 100).await.unwrap();
    events.iter().filter(|e| e.kind == event::EventKind::ConnectionReauthRequired).count()
}

/// The background refresher only, driven by hand: its timer set far away.
fn by_hand() -> EngineSettings {
    EngineSettings { sweep_every: Duration::from_secs(3600), ..settings() }
}

/// A renewal the provider fails for now is tried again later, each wait twice the
/// last, the connection left `active`; after a day of failures it is given up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_failing_for_a_day_make_the_connection_reauth_required() {
    let p = provider(60).await;
    let s = setup_with(&p, Store::memory(), MasterKey::generate(), by_hand()).await;
    connected_device_session(&s).await;
    *p.down.lock().unwrap() = true;

    s.clock.advance_millis(61_000);
    assert_eq!(s.engine.renew_due_connections().await.unwrap(), 0);
    let tried = refresh_grants(&p);
    assert!(tried >= 1, "the due renewal was tried");
    assert_eq!(connection_status(&s).await, "active", "a provider's outage says nothing of the grant");
    assert_eq!(s.engine.renew_due_connections().await.unwrap(), 0);
    assert_eq!(refresh_grants(&p), tried, "not tried again before its wait is over");

    s.clock.advance_millis(31_000);
    s.engine.renew_due_connections().await.unwrap();
    assert!(refresh_grants(&p) > tried, "tried again after 30 s");
    let tried = refresh_grants(&p);
    s.clock.advance_millis(31_000);
    s.engine.renew_due_connections().await.unwrap();
    assert_eq!(refresh_grants(&p), tried, "the second wait is longer");
    assert_eq!(connection_status(&s).await, "active");
    assert_eq!(reauth_events(&s).await, 0);

    s.clock.advance_millis(24 * 3600 * 1000);
    assert_eq!(s.engine.renew_due_connections().await.unwrap(), 0);
    assert_eq!(connection_status(&s).await, "reauth_required", "given up after a day of failures");
    assert_eq!(reauth_events(&s).await, 1, "and the app is told");
    s.clock.advance_millis(3600 * 1000);
    let tried = refresh_grants(&p);
    s.engine.renew_due_connections().await.unwrap();
    assert_eq!(refresh_grants(&p), tried, "a connection given up is not renewed any more");
}

/// Credentials whose entry re-checks them (`verify.everySeconds`) are checked at the
/// provider on that schedule with no call needing them; a key revoked at the
/// provider makes the connection `reauth_required`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_again_on_their_schedule_and_a_revoked_key_is_found() {
    let p = provider(3600).await;
    let s = setup_with(&p, Store::memory(), MasterKey::generate(), by_hand()).await;
    let accepted = Arc::new(Mutex::new("k-good".to_owned()));
    let key = accepted.clone();
    let keyed = ScriptedServer::start(move |r| {
        if r.path == "/keyed/me" && r.header("x-api-key") == Some(key.lock().unwrap().as_str()) {
            return Response::json(200, json!({"id": 1}));
        }
        Response::json(401, json!({"error": "unknown key"}))
    })
    .await;
    let draft = IntegrationDraft {
        key: "llm".into(),
        provider: "api_key".into(),
        client_id: String::new(),
        client_secret: SecretString::new(""),
        scopes: vec![],
        config: json!({
            "apiBaseUrl": format!("{}/keyed", keyed.base_url),
            "apiKey": {"in": "header", "name": "x-api-key"},
            "credentials": [{"name": "apiKey", "label": "API key", "secret": true}],
            "verify": {"method": "GET", "path": "/me", "everySeconds": 3600},
        }),
    };
    s.engine.put_integration(&s.principal.project_id, draft).await.unwrap();
    let import = Import {
        integration: "llm".into(),
        credentials: [("apiKey".to_owned(), SecretString::new("k-good"))].into_iter().collect(),
        params: Default::default(),
    };
    s.engine.import_connection(&s.principal, "user_123", import).await.unwrap();
    let checks = || keyed.requests().iter().filter(|r| r.path == "/keyed/me").count();
    assert_eq!(checks(), 1, "checked once before it was stored");

    assert_eq!(s.engine.renew_due_connections().await.unwrap(), 0, "not due for an hour");
    s.clock.advance_millis(3_601_000);
    assert_eq!(s.engine.renew_due_connections().await.unwrap(), 1);
    assert_eq!(checks(), 2, "checked again after an hour");
    assert_eq!(s.engine.renew_due_connections().await.unwrap(), 0, "and next in another hour");
    assert_eq!(checks(), 2);

    *accepted.lock().unwrap() = "k-rotated".into();
    s.clock.advance_millis(3_601_000);
    assert_eq!(s.engine.renew_due_connections().await.unwrap(), 0);
    assert_eq!(connection_status(&s).await, "reauth_required", "the provider no longer takes the key");
    assert_eq!(reauth_events(&s).await, 1);
}

/// An OAuth token set an app brings (moving from another broker) is proven at the
/// provider before it is stored: a token the provider does not know and a refresh
/// token it refuses are `credentials-rejected`; a refresh token alone is refreshed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_token_set_is_proven_at_the_provider_before_it_is_stored() {
    let p = provider(3600).await;
    let s = setup_with(&p, Store::memory(), MasterKey::generate(), by_hand()).await;
    let import = |fields: &[(&str, &str)]| Import {
        integration: "acme".into(),
        credentials: fields.iter().map(|(k, v)| (k.to_string(), SecretString::new(*v))).collect(),
        params: Default::default(),
    };
    let imported =
        |fields: &[(&str, &str)]| s.engine.import_connection(&s.principal, "user_123", import(fields));

    let unknown = imported(&[("accessToken", "stolen"), ("expiresIn", "3600")]).await;
    assert!(matches!(unknown, Err(EngineError::CredentialsRejected { .. })), "{unknown:?}");
    *p.dead_grant.lock().unwrap() = true;
    let dead = imported(&[("refreshToken", "rt-0")]).await;
    assert!(matches!(dead, Err(EngineError::CredentialsRejected { .. })), "{dead:?}");
    *p.dead_grant.lock().unwrap() = false;
    let stray = imported(&[("apiKey", "k")]).await;
    assert!(matches!(stray, Err(EngineError::Credential(_))), "{stray:?}");
    assert!(s.engine.list_connections(&s.principal, "user_123").await.unwrap().is_empty(), "nothing stored");

    let view = imported(&[("refreshToken", "rt-0")]).await.unwrap();
    assert_eq!(view.account.id, "acct-1", "the refreshed token's owner");
    assert_eq!(p.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(proxy_get(&s, "me").await.unwrap().1["authorization"], "Bearer at-1");

    let fields =
        [("accessToken", "at-9"), ("refreshToken", "rt-1"), ("expiresIn", "3600"), ("scope", "profile")];
    let again = imported(&fields).await.unwrap();
    assert_eq!(again.connection_id, view.connection_id, "the same account's connection, updated");
    assert_eq!(again.scopes, vec!["profile".to_owned()]);
    assert_eq!(proxy_get(&s, "me").await.unwrap().1["authorization"], "Bearer at-9", "taken as given");
}

/// Deleting a project: its keys stop working, its grants are revoked at the
/// provider, and nothing of it is left in the store; another project is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_project_revokes_its_grants_and_leaves_nothing_of_it() {
    let p = provider(3600).await;
    let s = setup_with(&p, Store::memory(), MasterKey::generate(), by_hand()).await;
    let project_id = s.principal.project_id.to_string();
    let mut draft = acme_integration(&p.server.base_url, "/api");
    draft.config["revocationEndpoint"] = json!(format!("{}/revoke", p.server.base_url));
    s.engine.put_integration(&project_id, draft).await.unwrap();
    let connected = connected_device_session(&s).await;
    let pending = s.engine.create_session(&s.principal, device_request()).await.unwrap().session_id;
    let (_, key) = s.engine.issue_api_key(&project_id, "ci").await.unwrap();
    let other = s.engine.create_project("Other").await.unwrap();
    // A project whose counter never moved: its key remembered while it read 0.
    let quiet = s.engine.create_project("Quiet").await.unwrap();
    let (_, quiet_key) = s.engine.issue_api_key(&quiet.id, "ci").await.unwrap();
    s.engine.authenticate(quiet_key.expose()).await.unwrap();
    s.engine.delete_project(&quiet.id).await.unwrap();
    assert!(s.engine.authenticate(quiet_key.expose()).await.is_err(), "a remembered key is not taken again");
    assert!(matches!(s.engine.issue_api_key(&quiet.id, "late").await, Err(EngineError::NotFound(_))));

    s.engine.delete_project(&project_id).await.unwrap();
    assert!(s.engine.authenticate(key.expose()).await.is_err(), "its keys stop working");
    assert!(p.server.requests().iter().any(|r| r.path == "/revoke"), "the grant is revoked at the provider");
    assert!(matches!(s.engine.project(&project_id).await, Err(EngineError::NotFound(_))));
    let tx = s.engine.store().begin().await.unwrap();
    let everything = tx.get_range(&[], &[0xff], Default::default()).await.unwrap();
    let leftovers: Vec<String> = everything
        .iter()
        .map(|pair| String::from_utf8_lossy(&pair.key).into_owned())
        .filter(|key| [&project_id, &connected, &pending].iter().any(|id| key.contains(id.as_str())))
        .collect();
    // Entries of indexes that drop stale entries when read may stay, and the access
    // counter, carried past its old value: nothing else.
    let kept =
        |key: &String| key.contains("refresh_due") || key.contains("outbox") || key.contains("access_epoch");
    assert!(leftovers.iter().all(kept), "{leftovers:#?}");
    let listed = s.engine.list_projects(&Default::default()).await.unwrap();
    assert_eq!(listed.items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [other.id.as_str()]);
    assert!(matches!(s.engine.delete_project(&project_id).await, Err(EngineError::NotFound(_))));
}
