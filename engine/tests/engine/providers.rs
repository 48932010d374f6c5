//! Each first-party plugin against a scripted server playing its provider: the
//! exact authorization URL, token request and client authentication, refresh,
//! identity, revocation, and the provider's error answers as typed errors.

use std::collections::HashMap;
use std::sync::Arc;

use securix_engine::plugins::{
    AuthorizeParams, CallTarget, FetchPolicy, OAuthClient, Plugin, PluginError, PluginHost,
    PluginHostOptions, PluginLimits, ProviderFailure,
};
use securix_engine::util::secret::SecretString;
use serde_json::json;

use crate::support::scripted::{Request, Response, ScriptedServer};

pub const CLIENT_SECRET: &str = "very-secret&client=secret";
const REDIRECT: &str = "https://securix.test/oauth/callback";

/// A host whose fetches to `hosts` go to `server`.
pub fn routed_host(server: &ScriptedServer, hosts: &[&str]) -> PluginHost {
    let routes: HashMap<String, String> =
        hosts.iter().map(|h| (h.to_string(), server.base_url.clone())).collect();
    let fetch =
        FetchPolicy { allow_loopback_http: true, danger_test_routes: routes, ..FetchPolicy::default() };
    let cache_dir =
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasmtime-test-cache"));
    PluginHost::new(PluginHostOptions {
        limits: PluginLimits::danger_test_minimum(),
        fetch,
        cache_dir,
        ..PluginHostOptions::default()
    })
    .unwrap()
}

pub async fn first_party(host: &PluginHost, id: &str) -> Arc<Plugin> {
    let (_, wasm) = securix_plugins::FIRST_PARTY.iter().find(|(name, _)| *name == id).unwrap();
    host.load(wasm).await.unwrap()
}

pub fn target(config: serde_json::Value) -> CallTarget {
    CallTarget {
        config: config.to_string(),
        hosts: Vec::new(),
        client_auth_endpoints: Vec::new(),
        client: OAuthClient {
            client_id: "client-123".into(),
            client_secret: SecretString::new(CLIENT_SECRET),
            redirect_uri: REDIRECT.into(),
        },
        token_fields: Vec::new(),
    }
}

fn params(scopes: &[&str]) -> AuthorizeParams {
    AuthorizeParams {
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        state: "state-abc".into(),
        code_challenge: Some("challenge-xyz".into()),
        login_hint: None,
    }
}

fn query_of(url: &str) -> std::collections::BTreeMap<String, String> {
    crate::support::scripted::parse_pairs(url.split_once('?').map(|(_, q)| q).unwrap_or(""))
}

fn tokens_json() -> serde_json::Value {
    json!({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3599, "token_type": "Bearer", "scope": "openid email"})
}

fn basic_credentials(request: &Request) -> String {
    use base64::Engine;
    let encoded = request.header("authorization").unwrap().strip_prefix("Basic ").unwrap();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
}

fn provider_failure(error: PluginError) -> ProviderFailure {
    match error {
        PluginError::Provider { failure, .. } => failure,
        other => panic!("expected a provider failure, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google() {
    let server = ScriptedServer::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/token") if r.form().get("code").map(String::as_str) == Some("dead") => {
            Response::json(400, json!({"error": "invalid_grant", "error_description": "Bad Request"}))
        }
        ("POST", "/token") => Response::json(200, tokens_json()),
        ("GET", "/v1/userinfo") => Response::json(
            200,
            json!({"sub": "10769150350006150715113082367", "email": "jo@example.com", "name": "Jo"}),
        ),
        ("POST", "/revoke") => Response::json(200, json!({})),
        _ => Response::json(404, json!({})),
    })
    .await;
    let host = routed_host(
        &server,
        &[
            "accounts.google.com",
            "oauth2.googleapis.com",
            "openidconnect.googleapis.com",
            "gmail.googleapis.com",
        ],
    );
    let google = first_party(&host, "google").await;
    assert!(google.info().supports_refresh && google.info().supports_revoke);
    let t = target(json!({"apiBase": "https://gmail.googleapis.com"}));

    let url = google
        .authorize_url(&t, params(&["openid", "https://www.googleapis.com/auth/gmail.readonly"]))
        .await
        .unwrap();
    assert!(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"), "{url}");
    let q = query_of(&url);
    for (key, value) in [
        ("response_type", "code"),
        ("client_id", "client-123"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid https://www.googleapis.com/auth/gmail.readonly"),
        ("state", "state-abc"),
        ("code_challenge", "challenge-xyz"),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
        ("prompt", "consent"),
    ] {
        assert_eq!(q.get(key).map(String::as_str), Some(value), "{key} in {url}");
    }

    let issued = google.exchange_code(&t, "code-1", Some("verifier-1")).await.unwrap();
    assert_eq!(issued.access_token.expose(), "at-1");
    assert_eq!(issued.refresh_token.as_ref().unwrap().expose(), "rt-1");
    assert_eq!(issued.expires_in, Some(3599));
    assert_eq!(issued.scopes.as_deref(), Some(&["openid".to_string(), "email".to_string()][..]));
    let form = server.only("/token").form();
    assert_eq!(form.get("grant_type").unwrap(), "authorization_code");
    assert_eq!(form.get("code").unwrap(), "code-1");
    assert_eq!(form.get("code_verifier").unwrap(), "verifier-1");
    assert_eq!(form.get("redirect_uri").unwrap(), REDIRECT);
    assert_eq!(form.get("client_id").unwrap(), "client-123");
    assert_eq!(form.get("client_secret").unwrap(), CLIENT_SECRET, "the host filled in the real secret");

    let refreshed = google.refresh(&t, &SecretString::new("rt-1"), &[]).await.unwrap();
    assert_eq!(refreshed.access_token.expose(), "at-1");
    let refresh_form = server.requests().into_iter().filter(|r| r.path == "/token").nth(1).unwrap().form();
    assert_eq!(refresh_form.get("grant_type").unwrap(), "refresh_token");
    assert_eq!(refresh_form.get("refresh_token").unwrap(), "rt-1");

    let who = google.identity(&t, &SecretString::new("at-1")).await.unwrap();
    assert_eq!(who.account_id, "10769150350006150715113082367");
    assert_eq!(who.email.as_deref(), Some("jo@example.com"));
    assert_eq!(server.only("/v1/userinfo").header("authorization"), Some("Bearer at-1"));

    let api = google.proxy_target(&t, &SecretString::new("at-1")).await.unwrap();
    assert_eq!(api.base_url, "https://gmail.googleapis.com");
    assert_eq!(api.headers[0].1.expose(), "Bearer at-1");

    google.revoke(&t, &SecretString::new("at-1"), Some(&SecretString::new("rt-1"))).await.unwrap();
    assert_eq!(server.only("/revoke").form().get("token").unwrap(), "rt-1");

    let dead = google.exchange_code(&t, "dead", None).await.unwrap_err();
    assert!(matches!(provider_failure(dead), ProviderFailure::InvalidGrant(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github() {
    let server = ScriptedServer::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/login/oauth/access_token") if r.form().get("code").map(String::as_str) == Some("dead") => {
            // GitHub answers errors with 200.
            Response::json(200, json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}))
        }
        ("POST", "/login/oauth/access_token") => Response::json(200, json!({"access_token": "gho_1", "token_type": "bearer", "scope": "repo,gist"})),
        ("GET", "/user") if r.header("user-agent").is_some() => Response::json(200, json!({"id": 583231, "login": "octocat", "email": null})),
        ("DELETE", "/applications/client-123/grant") => Response { status: 204, headers: vec![], body: vec![] },
        _ => Response::json(403, json!({"message": "no user agent"})),
    })
    .await;
    let host = routed_host(&server, &["github.com", "api.github.com"]);
    let github = first_party(&host, "github").await;
    let t = target(json!({}));
    let url = github.authorize_url(&t, params(&["repo", "gist"])).await.unwrap();
    assert!(url.starts_with("https://github.com/login/oauth/authorize?"));
    assert_eq!(query_of(&url).get("scope").unwrap(), "repo gist");
    let issued = github.exchange_code(&t, "code-1", Some("v")).await.unwrap();
    assert_eq!(issued.access_token.expose(), "gho_1");
    assert_eq!(issued.scopes.unwrap(), ["repo", "gist"]);
    assert_eq!(server.only("/login/oauth/access_token").header("accept"), Some("application/json"));
    let who = github.identity(&t, &SecretString::new("gho_1")).await.unwrap();
    assert_eq!((who.account_id.as_str(), who.name.as_deref()), ("583231", Some("octocat")));
    github.revoke(&t, &SecretString::new("gho_1"), None).await.unwrap();
    let revoke = server.only("/applications/client-123/grant");
    assert_eq!(basic_credentials(&revoke), format!("client-123:{}", "very-secret%26client%3Dsecret"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&revoke.body).unwrap()["access_token"], "gho_1");
    let dead = github.exchange_code(&t, "dead", None).await.unwrap_err();
    assert!(matches!(provider_failure(dead), ProviderFailure::InvalidGrant(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft() {
    let server = ScriptedServer::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token") if r.form().get("grant_type").map(String::as_str) == Some("refresh_token") => {
            Response::json(400, json!({"error": "invalid_grant", "error_description": "AADSTS70008: The refresh token has expired."}))
        }
        ("POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token") => Response::json(200, tokens_json()),
        ("GET", "/v1.0/me") => Response::json(200, json!({"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Megan", "mail": null, "userPrincipalName": "megan@contoso.com"})),
        _ => Response::json(404, json!({})),
    })
    .await;
    let host = routed_host(&server, &["login.microsoftonline.com", "graph.microsoft.com"]);
    let microsoft = first_party(&host, "microsoft").await;
    assert!(!microsoft.info().supports_revoke);
    let t = target(json!({"tenant": "contoso.onmicrosoft.com"}));
    let url = microsoft.authorize_url(&t, params(&["openid", "offline_access", "Mail.Read"])).await.unwrap();
    assert!(
        url.starts_with("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"),
        "{url}"
    );
    assert_eq!(query_of(&url).get("response_mode").unwrap(), "query");
    microsoft.exchange_code(&t, "code-1", Some("v")).await.unwrap();
    let who = microsoft.identity(&t, &SecretString::new("at-1")).await.unwrap();
    assert_eq!(who.email.as_deref(), Some("megan@contoso.com"));
    let expired = microsoft.refresh(&t, &SecretString::new("rt-old"), &[]).await.unwrap_err();
    assert!(matches!(provider_failure(expired), ProviderFailure::InvalidGrant(_)));
    let bad = microsoft.validate_config(r#"{"tenant": "../evil"}"#).await.unwrap_err();
    assert!(matches!(provider_failure(bad), ProviderFailure::InvalidConfig(_)));
    let unsupported = microsoft.revoke(&t, &SecretString::new("at-1"), None).await.unwrap_err();
    assert!(matches!(provider_failure(unsupported), ProviderFailure::Unsupported(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropbox() {
    let server = ScriptedServer::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/oauth2/token") => Response::json(200, json!({"access_token": "sl.1", "refresh_token": "rt", "expires_in": 14400, "token_type": "bearer", "account_id": "dbid:AAH4f99"})),
        ("POST", "/2/users/get_current_account") => Response::json(200, json!({"account_id": "dbid:AAH4f99", "email": "franz@example.com", "name": {"display_name": "Franz Ferdinand"}})),
        ("POST", "/2/auth/token/revoke") => Response::json(200, json!(null)),
        _ => Response::json(404, json!({})),
    })
    .await;
    let host = routed_host(&server, &["www.dropbox.com", "api.dropboxapi.com"]);
    let dropbox = first_party(&host, "dropbox").await;
    let t = target(json!({}));
    let url = dropbox.authorize_url(&t, params(&["files.content.read"])).await.unwrap();
    assert!(url.starts_with("https://www.dropbox.com/oauth2/authorize?"));
    assert_eq!(query_of(&url).get("token_access_type").unwrap(), "offline");
    let issued = dropbox.exchange_code(&t, "code-1", Some("v")).await.unwrap();
    assert_eq!(issued.expires_in, Some(14400));
    let who = dropbox.identity(&t, &issued.access_token).await.unwrap();
    assert_eq!((who.account_id.as_str(), who.name.as_deref()), ("dbid:AAH4f99", Some("Franz Ferdinand")));
    dropbox.revoke(&t, &issued.access_token, issued.refresh_token.as_ref()).await.unwrap();
    assert_eq!(server.only("/2/auth/token/revoke").header("authorization"), Some("Bearer sl.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack() {
    let server = ScriptedServer::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/api/oauth.v2.access") if r.form().get("code").map(String::as_str) == Some("dead") => Response::json(200, json!({"ok": false, "error": "invalid_code"})),
        ("POST", "/api/oauth.v2.access") => Response::json(200, json!({
            "ok": true, "access_token": "xoxb-1", "token_type": "bot", "scope": "chat:write,channels:read",
            "team": {"id": "T1", "name": "Acme"},
            "authed_user": {"id": "U1", "scope": "search:read", "access_token": "xoxp-1", "token_type": "user"}
        })),
        ("POST", "/api/auth.test") => Response::json(200, json!({"ok": true, "team_id": "T1", "user_id": "U1", "user": "jo", "team": "Acme"})),
        ("GET", "/api/auth.revoke") => Response::json(200, json!({"ok": true, "revoked": true})),
        _ => Response::json(404, json!({"ok": false, "error": "unknown_method"})),
    })
    .await;
    let host = routed_host(&server, &["slack.com"]);
    let slack = first_party(&host, "slack").await;
    let bot = target(json!({}));
    let url = slack.authorize_url(&bot, params(&["chat:write", "channels:read"])).await.unwrap();
    assert!(url.starts_with("https://slack.com/oauth/v2/authorize?"));
    let q = query_of(&url);
    assert_eq!(q.get("scope").unwrap(), "chat:write,channels:read");
    assert!(!q.contains_key("code_challenge"), "Slack gets no PKCE");
    let issued = slack.exchange_code(&bot, "code-1", None).await.unwrap();
    assert_eq!(issued.access_token.expose(), "xoxb-1");
    assert_eq!(issued.scopes.unwrap(), ["chat:write", "channels:read"]);
    let user = target(json!({"tokenKind": "user"}));
    assert_eq!(
        query_of(&slack.authorize_url(&user, params(&["search:read"])).await.unwrap())
            .get("user_scope")
            .unwrap(),
        "search:read"
    );
    assert_eq!(slack.exchange_code(&user, "code-2", None).await.unwrap().access_token.expose(), "xoxp-1");
    let who = slack.identity(&bot, &SecretString::new("xoxb-1")).await.unwrap();
    assert_eq!(who.account_id, "T1:U1");
    slack.revoke(&bot, &SecretString::new("xoxb-1"), None).await.unwrap();
    let dead = slack.exchange_code(&bot, "dead", None).await.unwrap_err();
    assert!(matches!(provider_failure(dead), ProviderFailure::InvalidGrant(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_oauth2_from_discovery_with_basic_auth() {
    let base = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let script_base = base.clone();
    let server = ScriptedServer::start(move |r| {
        let base = script_base.get().cloned().unwrap_or_default();
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => Response::json(
                200,
                json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/authorize"),
                    "token_endpoint": format!("{base}/token"),
                    "userinfo_endpoint": format!("{base}/userinfo"),
                    "revocation_endpoint": format!("{base}/revoke"),
                }),
            ),
            ("POST", "/token") => Response::json(200, tokens_json()),
            ("GET", "/userinfo") => {
                Response::json(200, json!({"sub": "user-42", "email": "u42@example.com"}))
            }
            ("POST", "/revoke") => Response::json(200, json!({})),
            _ => Response::json(404, json!({})),
        }
    })
    .await;
    base.set(server.base_url.clone()).unwrap();
    let host = routed_host(&server, &[]);
    let generic = first_party(&host, "oauth2").await;
    let config = json!({"discoveryUrl": format!("{}/.well-known/openid-configuration", server.base_url), "clientAuth": "client_secret_basic"});
    let validated = generic.validate_config(&config.to_string()).await.unwrap();
    assert_eq!(validated.hosts, [server.base_url.as_str()], "the site with its scheme and port");
    let named_by_discovery = [format!("{}/token", server.base_url), format!("{}/revoke", server.base_url)];
    assert_eq!(validated.client_auth_endpoints, named_by_discovery);
    let resolved: serde_json::Value = serde_json::from_str(&validated.config).unwrap();
    assert_eq!(resolved["tokenEndpoint"], format!("{}/token", server.base_url));
    let mut t = target(resolved);
    t.hosts = validated.hosts;
    t.client_auth_endpoints = validated.client_auth_endpoints;
    let url = generic.authorize_url(&t, params(&["openid"])).await.unwrap();
    assert!(url.starts_with(&format!("{}/authorize?", server.base_url)));
    generic.exchange_code(&t, "code-1", Some("v")).await.unwrap();
    let token_request = server.only("/token");
    assert_eq!(basic_credentials(&token_request), "client-123:very-secret%26client%3Dsecret");
    assert!(
        !token_request.form().contains_key("client_secret"),
        "basic auth keeps the secret out of the body"
    );
    assert_eq!(generic.identity(&t, &SecretString::new("at-1")).await.unwrap().account_id, "user-42");
    generic.revoke(&t, &SecretString::new("at-1"), Some(&SecretString::new("rt-1"))).await.unwrap();
    assert_eq!(server.only("/revoke").form().get("token_type_hint").unwrap(), "refresh_token");
    // Without the discovery document the configuration is refused with a reason.
    let missing = generic.validate_config(r#"{"tokenEndpoint": "https://x.test/token"}"#).await.unwrap_err();
    assert!(
        matches!(provider_failure(missing), ProviderFailure::InvalidConfig(m) if m.contains("authorization"))
    );
}
