//! Credentials users bring instead of an OAuth grant, end to end against a provider
//! in Node that takes one key (`tests/node/upstream.mjs`, `/keyed/`): typed on the
//! connect page or imported server to server, checked at the provider before
//! anything is stored, and sent by the proxy where the entry says. No key ever
//! comes back out, in an answer or in the server's log.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN_TOKEN, Answer, World, device_page, world};
use crate::peers::{NodePeer, ShortLivedOAuth, node_peer, try_node_peer};
use crate::support::free_port;

/// The upstream on a free port; another when a parallel test took that one first.
pub async fn upstream() -> (NodePeer, String) {
    for _ in 0..3 {
        let port = free_port();
        if let Some((peer, _)) = try_node_peer("upstream.mjs", &[&port.to_string()]).await {
            return (peer, format!("http://localhost:{port}"));
        }
    }
    panic!("upstream.mjs did not start on any of three ports");
}

/// Enables `provider` (a catalog entry or a generic credential provider) as `key`,
/// with no OAuth client: credential providers need none.
pub async fn put(w: &World, key: &str, provider: &str, config: Value) -> Answer {
    let path = format!("/v1/admin/projects/{}/integrations/{key}", w.project_id);
    let body = json!({"provider": provider, "config": config});
    w.client.json(Method::PUT, &path, &[("securix-admin-token", ADMIN_TOKEN)], body).await
}

/// A generic `api_key` provider on the upstream: the key in `placement`.
pub fn keyed(api: &str, placement: Value, verify: &str) -> Value {
    json!({
        "apiBaseUrl": format!("{api}/keyed"),
        "apiKey": placement,
        "credentials": [{"name": "apiKey", "label": "API key", "secret": true}],
        "verify": {"method": "GET", "path": verify},
        "credentialsHelpUrl": "https://keys.example/new",
    })
}

async fn import(w: &World, integration: &str, credentials: Value) -> Answer {
    let body = json!({"integration": integration, "credentials": credentials});
    w.client.json(Method::POST, "/v1/entities/user_123/connections", &w.app_headers(), body).await
}

async fn connections(w: &World) -> Vec<Value> {
    let listed = w.client.get("/v1/entities/user_123/connections", &w.app_headers()).await;
    listed.json().as_array().cloned().unwrap_or_default()
}

fn logs(w: &World) -> String {
    let (out, err) = (w.server.stdout.lock().unwrap().join("\n"), w.server.stderr.lock().unwrap().join("\n"));
    format!("{out}\n{err}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_typed_on_the_connect_page_is_checked_before_it_is_stored() {
    let w = world().await;
    let (_upstream, api) = upstream().await;
    let config = keyed(&api, json!({"in": "header", "name": "x-api-key"}), "/me");
    let put = put(&w, "llm", "api_key", config).await;
    assert_eq!(put.status, 200, "{}", put.text);

    let body = json!({"entityId": "user_123", "flow": "device", "providers": {"llm": {}}});
    let (session_id, open) = device_page(&w, body).await;
    let page = &open.page.text;
    assert!(page.contains(r#"name="credential.apiKey" type="password""#), "a masked field: {page}");
    assert!(page.contains(r#"href="https://keys.example/new""#), "where to get a key: {page}");

    let authorize = format!("/connect/{session_id}/authorize");
    let refused =
        open.post(&w.client, &authorize, &[("integration", "llm"), ("credential.apiKey", "sk-wrong")]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("(401)"), "the page says the provider refused it: {}", refused.text);
    assert!(!refused.text.contains("sk-wrong"), "a secret is never shown again");
    assert!(connections(&w).await.is_empty(), "a refused key stores nothing");

    let done =
        open.post(&w.client, &authorize, &[("integration", "llm"), ("credential.apiKey", "sk-good")]).await;
    assert_eq!(done.status, 200, "{}", done.text);
    let status = w.client.get(&format!("/v1/sessions/{session_id}"), &w.app_headers()).await.json();
    assert_eq!(status["status"], "completed", "{status}");
    let listed = connections(&w).await;
    assert_eq!(listed.len(), 1);
    assert!(!serde_json::to_string(&listed).unwrap().contains("sk-good"), "{listed:?}");

    let echoed = w.client.get("/v1/proxy/llm/v1/echo", &w.app_headers()).await;
    assert_eq!(echoed.status, 200, "{}", echoed.text);
    assert_eq!(echoed.json()["headers"]["x-api-key"], "sk-good", "sent where the configuration says");
    let logged = logs(&w);
    assert!(!logged.contains("sk-good") && !logged.contains("sk-wrong"), "no key in the server's log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_an_app_imports_are_verified_and_proxied_as_their_entry_says() {
    let w = world().await;
    let (_upstream, api) = upstream().await;
    // Twilio's catalog entry (HTTP Basic, verified with /Accounts.json), its API on loopback.
    let twilio = json!({"apiBaseUrl": format!("{api}/keyed"), "allowedHosts": ["localhost"]});
    assert_eq!(put(&w, "sms", "twilio", twilio).await.status, 200);
    let rejected = import(&w, "sms", json!({"username": "ada", "password": "wrong"})).await;
    assert_eq!(rejected.status, 422, "{}", rejected.text);
    assert!(rejected.json()["type"].as_str().unwrap().ends_with("/problems/credentials-rejected"));
    assert!(connections(&w).await.is_empty(), "nothing stored");
    let missing = import(&w, "sms", json!({"username": "ada"})).await;
    assert_eq!(missing.status, 400, "{}", missing.text);

    let imported = import(&w, "sms", json!({"username": "ada", "password": "s3cret"})).await;
    assert_eq!(imported.status, 201, "{}", imported.text);
    assert_eq!(imported.json()["account"]["id"], "ada", "the account SID names the account");
    assert!(!imported.text.contains("s3cret"));
    let echoed = w.client.get("/v1/proxy/sms/Messages/echo", &w.app_headers()).await.json();
    assert_eq!(echoed["headers"]["authorization"], "Basic YWRhOnMzY3JldA==");

    // A key in the query goes after the caller's own parameters.
    let query = keyed(&api, json!({"in": "query", "name": "key"}), "/me");
    assert_eq!(put(&w, "maps", "api_key", query).await.status, 200);
    assert_eq!(import(&w, "maps", json!({"apiKey": "sk-good"})).await.status, 201);
    let echoed = w.client.get("/v1/proxy/maps/geo/echo?q=x", &w.app_headers()).await.json();
    assert_eq!(echoed["url"], "/keyed/geo/echo?q=x&key=sk-good");

    // A provider that cannot answer says nothing of the key: 502, nothing stored.
    let down = keyed(&api, json!({"in": "header", "name": "x-api-key"}), "/down");
    assert_eq!(put(&w, "flaky", "api_key", down).await.status, 200);
    let unavailable = import(&w, "flaky", json!({"apiKey": "sk-good"})).await;
    assert_eq!(unavailable.status, 502, "{}", unavailable.text);
    assert_eq!(connections(&w).await.len(), 2, "only sms and maps");

    let oauth = import(&w, "mock", json!({"apiKey": "x"})).await;
    assert_eq!(oauth.status, 400, "an OAuth integration connects through a session: {}", oauth.text);
    assert!(!logs(&w).contains("s3cret"), "no secret in the server's log");
}

/// An app moving from another broker imports its users' OAuth token sets: a token
/// the provider (oauth2-mock-server, answering userinfo only for the tokens it
/// issued) does not know is refused; a refresh token alone is refreshed there
/// first. Neither token ever shows up in an answer or the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_set_is_imported_once_the_provider_takes_it() {
    let w = world().await;
    let provider = ShortLivedOAuth::start(3600).await;
    let discovery = format!("{}/.well-known/openid-configuration", provider.base_url);
    let path = format!("/v1/admin/projects/{}/integrations/moved", w.project_id);
    let body = json!({"provider": "oauth2", "clientId": "moved-client", "clientSecret": "moved-secret",
        "config": {"discoveryUrl": discovery, "apiBaseUrl": provider.base_url}});
    let put = w.client.json(Method::PUT, &path, &[("securix-admin-token", ADMIN_TOKEN)], body).await;
    assert_eq!(put.status, 200, "{}", put.text);

    let forged = import(&w, "moved", json!({"accessToken": "forged-access-token", "expiresIn": 3600})).await;
    assert_eq!(forged.status, 422, "{}", forged.text);
    assert!(forged.json()["type"].as_str().unwrap().ends_with("/problems/credentials-rejected"));
    assert!(connections(&w).await.is_empty(), "nothing stored");

    let moved = import(&w, "moved", json!({"refreshToken": "moved-refresh-token", "scope": "openid"})).await;
    assert_eq!(moved.status, 201, "{}", moved.text);
    assert_eq!(provider.refreshes(), 1, "a refresh token alone is refreshed first");
    let view = moved.json();
    assert_eq!(view["status"], "active");
    assert_eq!(view["account"]["id"], "johndoe", "{view}");
    let proxied = w.client.get("/v1/proxy/moved/userinfo", &w.app_headers()).await;
    assert_eq!(proxied.status, 200, "the refreshed token works: {}", proxied.text);
    let logged = logs(&w);
    for secret in ["forged-access-token", "moved-refresh-token"] {
        assert!(!logged.contains(secret) && !moved.text.contains(secret), "{secret} leaked");
    }
}

/// An entity may hold two accounts of one integration: the first connected is the
/// default the proxy uses when a call names none, until the app makes another one
/// the default; a second account never makes calls fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_of_several_accounts_serves_calls_that_name_none() {
    let w = world().await;
    let (_upstream, api) = upstream().await;
    let twilio = json!({"apiBaseUrl": format!("{api}/keyed"), "allowedHosts": ["localhost"]});
    assert_eq!(put(&w, "sms", "twilio", twilio).await.status, 200);
    let ada = import(&w, "sms", json!({"username": "ada", "password": "s3cret"})).await.json();
    let bob = import(&w, "sms", json!({"username": "bob", "password": "s3cret"})).await.json();
    assert_eq!(
        (ada["default"].as_bool(), bob["default"].as_bool()),
        (Some(true), Some(false)),
        "{ada} {bob}"
    );
    let user = |echoed: Value| match echoed["headers"]["authorization"].as_str() {
        Some("Basic YWRhOnMzY3JldA==") => "ada",
        Some("Basic Ym9iOnMzY3JldA==") => "bob",
        other => panic!("{other:?}"),
    };
    let call = || async { w.client.get("/v1/proxy/sms/Messages/echo", &w.app_headers()).await };
    let first = call().await;
    assert_eq!(first.status, 200, "a second account does not make calls fail: {}", first.text);
    assert_eq!(user(first.json()), "ada", "the first connected is the default");

    let path =
        |c: &Value| format!("/v1/entities/user_123/connections/{}", c["connectionId"].as_str().unwrap());
    let made = w.client.json(Method::PATCH, &path(&bob), &w.app_headers(), json!({"default": true})).await;
    assert_eq!(made.status, 200, "{}", made.text);
    assert_eq!(made.json()["default"], true);
    assert_eq!(user(call().await.json()), "bob");
    let defaults: Vec<_> = connections(&w).await.into_iter().filter(|c| c["default"] == true).collect();
    assert_eq!(defaults.len(), 1, "one default per integration: {defaults:?}");
    let unset = w.client.json(Method::PATCH, &path(&ada), &w.app_headers(), json!({"default": false})).await;
    assert_eq!(unset.status, 400, "{}", unset.text);

    assert_eq!(w.client.send(Method::DELETE, &path(&bob), &w.app_headers(), None, None).await.status, 204);
    assert_eq!(user(call().await.json()), "ada", "the default gone, the first connected serves again");
}

/// `jwt` credentials: a private key the test's token endpoint trusts signs each
/// assertion (checked there with its public half); the access token it answers is
/// what the proxy sends, and a lapsed one is taken again with a new assertion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_key_is_exchanged_for_tokens_by_signed_assertions() {
    let w = world().await;
    let port = free_port();
    let (_issuer, lines) = node_peer("jwt-issuer.mjs", &[&port.to_string()]).await;
    let issuer = format!("http://localhost:{port}");
    let keys = lines.lock().unwrap()[0]["keys"].clone();
    let key = |name: &str| keys[name].as_str().unwrap().to_owned();
    let tokens_taken =
        || -> Vec<Value> { lines.lock().unwrap().iter().filter_map(|l| l.get("token").cloned()).collect() };

    // Google's service-account entry: the RFC 7523 JWT bearer grant.
    let google = json!({
        "tokenUrl": format!("{issuer}/token"), "apiBaseUrl": format!("{issuer}/api"), "allowedHosts": ["localhost"],
        "jwt": {"algorithm": "RS256", "audience": format!("{issuer}/token"), "grant": "jwt-bearer"},
    });
    let path = format!("/v1/admin/projects/{}/integrations/gsa", w.project_id);
    let body = json!({"provider": "google-service-account", "scopes": ["drive.readonly"], "config": google});
    let enabled = w.client.json(Method::PUT, &path, &[("securix-admin-token", ADMIN_TOKEN)], body).await;
    assert_eq!(enabled.status, 200, "{}", enabled.text);
    let untrusted =
        import(&w, "gsa", json!({"clientEmail": "svc@acme.iam", "privateKey": key("other")})).await;
    assert_eq!(untrusted.status, 422, "a key the provider does not trust: {}", untrusted.text);
    let imported =
        import(&w, "gsa", json!({"clientEmail": "svc@acme.iam", "privateKey": key("pkcs8")})).await;
    assert_eq!(imported.status, 201, "{}", imported.text);
    assert_eq!(imported.json()["account"]["id"], "svc@acme.iam");
    let claims = tokens_taken()[1]["claims"].clone();
    assert_eq!(
        (claims["iss"].as_str(), claims["scope"].as_str()),
        (Some("svc@acme.iam"), Some("drive.readonly"))
    );
    assert_eq!(claims["aud"], format!("{issuer}/token"));
    assert!(claims.get("sub").is_none(), "no user to impersonate was given");

    let first = w.client.get("/v1/proxy/gsa/echo", &w.app_headers()).await.json();
    assert!(first["authorization"].as_str().unwrap().starts_with("Bearer ya29-"), "{first}");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let second = w.client.get("/v1/proxy/gsa/echo", &w.app_headers()).await.json();
    assert_ne!(second["authorization"], first["authorization"], "a new token, taken with a new assertion");
    assert!(second["authorization"].as_str().unwrap().starts_with("Bearer ya29-"), "{second}");

    // A GitHub App: a PKCS#1 key, the assertion as a Bearer token, the installation a param.
    let github = json!({
        "tokenUrl": format!("{issuer}/app/installations/{{installation_id}}/access_tokens"),
        "apiBaseUrl": format!("{issuer}/api"), "allowedHosts": ["localhost"],
    });
    assert_eq!(put(&w, "gh", "github-app", github).await.status, 200);
    let body = json!({"integration": "gh", "credentials": {"appId": "12345", "privateKey": key("pkcs1")},
                      "params": {"installation_id": "777"}});
    let app = w.client.json(Method::POST, "/v1/entities/user_123/connections", &w.app_headers(), body).await;
    assert_eq!(app.status, 201, "{}", app.text);
    let taken = tokens_taken().last().cloned().unwrap();
    assert_eq!(taken["path"], "/app/installations/777/access_tokens");
    assert_eq!(taken["claims"]["iss"], "12345");
    let echoed = w.client.get("/v1/proxy/gh/echo", &w.app_headers()).await.json();
    assert!(echoed["authorization"].as_str().unwrap().starts_with("Bearer ghs_"), "{echoed}");
    assert_eq!(echoed["version"], "2022-11-28", "the entry's API headers go along");
    let logged = logs(&w);
    assert!(
        !logged.contains("PRIVATE KEY") && !logged.contains("ya29-"),
        "no key or token in the server's log"
    );
}

/// `reconnect` authorizes a connection again through a session and keeps its id,
/// even when the user signs in as another account; an id the entity does not hold
/// answers 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_session_keeps_the_connection_id() {
    let w = world().await;
    let (_upstream, api) = upstream().await;
    let twilio = json!({"apiBaseUrl": format!("{api}/keyed"), "allowedHosts": ["localhost"]});
    assert_eq!(put(&w, "sms", "twilio", twilio).await.status, 200);
    let imported = import(&w, "sms", json!({"username": "ada", "password": "s3cret"})).await.json();
    let id = imported["connectionId"].as_str().unwrap().to_owned();

    let body =
        json!({"entityId": "user_123", "flow": "device", "reconnect": "con_nosuchconnection0000000000"});
    let unknown = w.client.json(Method::POST, "/v1/sessions", &w.app_headers(), body).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);

    let body = json!({"entityId": "user_123", "flow": "device", "reconnect": id});
    let (session_id, open) = device_page(&w, body).await;
    let typed = [("integration", "sms"), ("credential.username", "bob"), ("credential.password", "s3cret")];
    let done = open.post(&w.client, &format!("/connect/{session_id}/authorize"), &typed).await;
    assert_eq!(done.status, 200, "{}", done.text);
    let listed = connections(&w).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["connectionId"], id.as_str(), "the same connection, authorized again");
    assert_eq!(listed[0]["account"]["id"], "bob", "as the account the user signed in as now");
}
