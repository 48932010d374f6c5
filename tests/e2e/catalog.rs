//! The provider catalog end to end: served, searched and paged; and entries of each
//! shape (a connection param, a nested token answer, Basic client auth with rotating
//! refresh) connected by a whole device flow against oauth2-mock-server made to
//! behave like that provider, then called through the proxy.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN_TOKEN, Answer, CLIENT_SECRET, OpenPage, World, device_page, world};
use crate::peers::{Lines, NodePeer, node_peer};
use crate::support::free_port;

/// `provider-quirks.mjs`: a local OAuth server with a provider's quirks.
struct Quirky {
    _peer: NodePeer,
    lines: Lines,
    base: String,
}

async fn quirky(quirks: &str) -> Quirky {
    let port = free_port();
    let (peer, lines) = node_peer("provider-quirks.mjs", &[&port.to_string(), quirks]).await;
    Quirky { _peer: peer, lines, base: format!("http://localhost:{port}") }
}

impl Quirky {
    /// An integration `config` that moves an entry's OAuth URLs to this peer and its
    /// API to `api`, both on loopback.
    fn urls(&self, api: &str) -> Value {
        json!({
            "authorizationUrl": format!("{}/authorize", self.base),
            "tokenUrl": format!("{}/token", self.base),
            "apiBaseUrl": api,
            "allowedHosts": ["localhost"],
        })
    }

    /// What the peer printed under `kind` (`authorize`, `token`, `userinfo`).
    fn seen(&self, kind: &str) -> Vec<Value> {
        self.lines.lock().unwrap().iter().filter_map(|line| line.get(kind).cloned()).collect()
    }
}

/// Enables catalog entry `provider` as integration `key`, its URLs moved to the peers
/// on loopback through the integration's `config` (what an operator of a self-hosted
/// instance does).
async fn put_entry(w: &World, key: &str, provider: &str, config: Value) -> Answer {
    let path = format!("/v1/admin/projects/{}/integrations/{key}", w.project_id);
    let body = json!({"provider": provider, "clientId": "securix-e2e", "clientSecret": CLIENT_SECRET, "config": config});
    w.client.json(Method::PUT, &path, &[("securix-admin-token", ADMIN_TOKEN)], body).await
}

/// The user connects `key` through a device flow; the session's final view.
async fn connect(w: &World, key: &str, params: Value) -> Value {
    let (session_id, open) = open_device_session(w, key, params).await;
    let form =
        open.post(&w.client, &format!("/connect/{session_id}/authorize"), &[("integration", key)]).await;
    finish_at_provider(w, &session_id, &open, form).await
}

/// A device session for `key` with the app's `params`, its code entered and its
/// connect page open.
async fn open_device_session(w: &World, key: &str, params: Value) -> (String, OpenPage) {
    device_page(w, json!({"entityId": "user_123", "flow": "device", "providers": {key: {"params": params}}}))
        .await
}

/// Follows the connect form's redirect through the provider's approval and back;
/// the session's final view.
async fn finish_at_provider(w: &World, session_id: &str, open: &OpenPage, form: Answer) -> Value {
    let headers = w.app_headers();
    assert_eq!(form.status, 303, "{}", form.text);
    let at_provider = w.client.get(&form.location(), &[]).await;
    assert_eq!(at_provider.status, 302, "the provider approves and redirects back");
    w.client.get(&at_provider.location(), &[("cookie", open.cookie.as_str())]).await;
    let status = w.client.get(&format!("/v1/sessions/{session_id}?wait=5"), &headers).await;
    status.json()
}

async fn proxy_echo(w: &World, key: &str, path: &str) -> Answer {
    w.client.get(&format!("/v1/proxy/{key}/{path}"), &w.app_headers()).await
}

async fn upstream() -> (NodePeer, String) {
    let port = free_port();
    let (peer, _) = node_peer("upstream.mjs", &[&port.to_string()]).await;
    (peer, format!("http://localhost:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_is_served_searched_and_paged() {
    let w = world().await;
    let app = [("securix-api-key", w.api_key.as_str())];
    assert_eq!(w.client.get("/v1/catalog", &[]).await.status, 401);
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = w.client.get(&format!("/v1/catalog?limit=100{cursor}"), &app).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let page = page.json();
        for provider in page["providers"].as_array().unwrap() {
            assert!(provider["docsUrl"].as_str().unwrap().starts_with("https://"), "{provider}");
            ids.push(provider["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert!(ids.len() >= 250, "{} providers", ids.len());
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "id order, each once");

    let keys = w.client.get("/v1/catalog?authMode=api_key&limit=500", &app).await.json();
    let keys = keys["providers"].as_array().unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|p| p["authMode"] == "api_key"));
    let support = w.client.get("/v1/catalog?category=support&q=zen", &app).await.json();
    assert!(support["providers"].as_array().unwrap().iter().any(|p| p["id"] == "zendesk"), "{support}");
    assert_eq!(w.client.get("/v1/catalog?authMode=telepathy", &app).await.status, 400);

    let zendesk = w.client.get("/v1/catalog/zendesk", &[("securix-admin-token", ADMIN_TOKEN)]).await;
    assert_eq!(zendesk.status, 200, "the operator reads it too");
    let zendesk = zendesk.json();
    assert_eq!(zendesk["connectionParams"][0]["name"], "subdomain");
    assert_eq!(zendesk["logoUrl"], "https://www.zendesk.com/favicon.ico");
    assert_eq!(w.client.get("/v1/catalog/no-such-provider", &app).await.status, 404);
}

/// The Zendesk entry with its URLs on the peers; the API under `/{subdomain}/api/v2`.
fn zendesk_on_loopback(provider: &Quirky, api: &str) -> Value {
    json!({
        "authorizationUrl": format!("{}/authorize", provider.base),
        "tokenUrl": format!("{}/token", provider.base),
        "apiBaseUrl": format!("{api}/{{subdomain}}/api/v2"),
        "identity": {"url": format!("{}/userinfo", provider.base), "accountId": "user.id", "email": "user.email"},
        "authorizeParams": {"tenant": "{subdomain}"},
        "allowedHosts": ["localhost"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_with_a_connection_param_connects_and_proxies_to_its_host() {
    let w = world().await;
    let provider = quirky("zendesk").await;
    let (_upstream, api) = upstream().await;
    let put = put_entry(&w, "zd", "zendesk", zendesk_on_loopback(&provider, &api)).await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json()["scopes"], json!(["read"]), "the entry's default scopes");

    // A value that would move the URL elsewhere is refused before any session exists.
    for bad in ["evil.example/x", "a b", "x@evil", ""] {
        let body = json!({"entityId": "user_123", "flow": "device", "providers": {"zd": {"params": {"subdomain": bad}}}});
        let refused = w.client.json(Method::POST, "/v1/sessions", &w.app_headers(), body).await;
        assert_eq!(refused.status, 400, "{bad:?}: {}", refused.text);
    }
    let body =
        json!({"entityId": "user_123", "flow": "device", "providers": {"zd": {"params": {"tenant": "x"}}}});
    let unknown = w.client.json(Method::POST, "/v1/sessions", &w.app_headers(), body).await;
    assert_eq!(unknown.status, 400, "a param the entry does not take: {}", unknown.text);

    let done = connect(&w, "zd", json!({"subdomain": "acme"})).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(provider.seen("authorize")[0]["tenant"], "acme", "the param filled into the authorize params");
    let connections = w.client.get("/v1/entities/user_123/connections", &w.app_headers()).await.json();
    let account = &connections.as_array().unwrap()[0]["account"];
    assert_eq!(account["id"], "4242", "the account id from the nested identity answer: {connections}");
    assert_eq!(account["email"], "ada@acme.example");

    let echoed = proxy_echo(&w, "zd", "tickets/echo").await;
    assert_eq!(echoed.status, 200, "{}", echoed.text);
    assert_eq!(
        echoed.json()["url"],
        "/acme/api/v2/tickets/echo",
        "the base URL filled with the connection's param"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_set_nested_in_the_answer_is_found_where_the_entry_says() {
    let w = world().await;
    let provider = quirky("nested").await;
    let (_upstream, api) = upstream().await;
    let put = put_entry(&w, "scale", "withings", provider.urls(&api)).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let done = connect(&w, "scale", json!({})).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        provider.seen("authorize")[0]["scope"],
        "user.metrics,user.activity",
        "comma-separated scopes"
    );
    assert_eq!(provider.seen("token")[0]["form"]["action"], "requesttoken", "the entry's token params");
    let echoed = proxy_echo(&w, "scale", "measure/echo").await.json();
    let bearer = echoed["headers"]["authorization"].as_str().unwrap();
    assert!(bearer.starts_with("Bearer ey"), "the access token from inside `body`: {bearer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_client_auth_and_rotating_refresh_keep_a_connection_alive() {
    let w = world().await;
    let provider = quirky("basic,rotating,short").await;
    let (_upstream, api) = upstream().await;
    let put = put_entry(&w, "fit", "fitbit", provider.urls(&api)).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let done = connect(&w, "fit", json!({})).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(provider.seen("authorize")[0]["code_challenge"].is_string(), "the entry asks for PKCE");
    // The background refresher renews each 2-second token before it lapses, with no
    // call asking; each refresh works only with the token the one before rotated in.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while provider.seen("token").len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tokens = provider.seen("token");
    let grants: Vec<&str> = tokens.iter().map(|t| t["grant"].as_str().unwrap()).collect();
    assert!(grants.len() >= 3 && grants[1..].iter().all(|g| *g == "refresh_token"), "{grants:?}");
    for (n, token) in tokens[1..].iter().enumerate() {
        assert_eq!(
            token["form"]["refresh_token"],
            format!("rt-{}", n + 1),
            "the rotated refresh token was kept"
        );
    }
    assert!(tokens.iter().all(|t| t["basic"] == true && t["secretInBody"] == false), "{tokens:?}");
    let echoed = proxy_echo(&w, "fit", "1/user/-/profile/echo").await;
    assert_eq!(echoed.status, 200, "{}", echoed.text);
}

/// A param the app did not pass is asked on the connect page, checked against the
/// entry's pattern there (a refusal changes nothing), and used like the app's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connect_page_asks_for_the_params_the_app_left_out() {
    let w = world().await;
    let provider = quirky("zendesk").await;
    let (_upstream, api) = upstream().await;
    let put = put_entry(&w, "zd", "zendesk", zendesk_on_loopback(&provider, &api)).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let (session_id, open) = open_device_session(&w, "zd", json!({})).await;
    assert!(open.page.text.contains("Zendesk subdomain"), "the param's label is shown: {}", open.page.text);
    assert!(open.page.text.contains(r#"name="param.subdomain" required"#), "{}", open.page.text);

    let authorize = format!("/connect/{session_id}/authorize");
    for bad in [&[("integration", "zd")][..], &[("integration", "zd"), ("param.subdomain", "evil.example/x")]]
    {
        let refused = open.post(&w.client, &authorize, bad).await;
        assert_eq!(refused.status, 400, "{bad:?}: {}", refused.text);
        assert!(
            refused.text.contains(r#"role="alert""#),
            "the page asks again, saying why: {}",
            refused.text
        );
        assert!(refused.text.contains(r#"name="param.subdomain""#), "{}", refused.text);
    }
    let smuggled = [("integration", "zd"), ("param.subdomain", "acme"), ("param.tenant", "x")];
    assert_eq!(
        open.post(&w.client, &authorize, &smuggled).await.status,
        400,
        "a param the entry does not take"
    );
    assert!(provider.seen("authorize").is_empty(), "nothing went to the provider");

    let form = open.post(&w.client, &authorize, &[("integration", "zd"), ("param.subdomain", "acme")]).await;
    let done = finish_at_provider(&w, &session_id, &open, form).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(provider.seen("authorize")[0]["tenant"], "acme");
    let echoed = proxy_echo(&w, "zd", "tickets/echo").await;
    assert_eq!(echoed.json()["url"], "/acme/api/v2/tickets/echo", "the typed value is the connection's");
}

/// A client-credentials entry has nothing for the user to approve at the provider:
/// continuing takes the token with the project's client at once (no redirect), the
/// account is the client, and a lapsed token is replaced by the same grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_credentials_entry_connects_without_a_redirect_and_renews_with_its_client() {
    let w = world().await;
    let provider = quirky("basic,short").await;
    let (_upstream, api) = upstream().await;
    let config = json!({"tokenUrl": format!("{}/token", provider.base), "apiBaseUrl": api, "allowedHosts": ["localhost"]});
    let put = put_entry(&w, "spotify", "spotify-client-credentials", config).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let (session_id, open) = open_device_session(&w, "spotify", json!({})).await;
    assert!(!open.page.text.contains("openid"), "no scopes but the entry's: {}", open.page.text);
    let done = open
        .post(&w.client, &format!("/connect/{session_id}/authorize"), &[("integration", "spotify")])
        .await;
    assert_eq!(done.status, 200, "the finished page, no redirect: {}", done.text);
    assert!(done.text.contains("Done."), "{}", done.text);
    let session = w.client.get(&format!("/v1/sessions/{session_id}"), &w.app_headers()).await.json();
    assert_eq!(session["status"], "completed", "{session}");
    let connections = w.client.get("/v1/entities/user_123/connections", &w.app_headers()).await.json();
    assert_eq!(connections[0]["account"]["id"], "securix-e2e", "the client is the account: {connections}");

    for _ in 0..2 {
        let echoed = proxy_echo(&w, "spotify", "tracks/echo").await;
        assert_eq!(echoed.status, 200, "{}", echoed.text);
        assert!(echoed.json()["headers"]["authorization"].as_str().unwrap().starts_with("Bearer ey"));
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let tokens = provider.seen("token");
    let grants: Vec<&str> = tokens.iter().map(|t| t["grant"].as_str().unwrap()).collect();
    assert!(
        grants.len() >= 2 && grants.iter().all(|g| *g == "client_credentials"),
        "taken again: {grants:?}"
    );
    assert!(tokens.iter().all(|t| t["basic"] == true), "{tokens:?}");
}

/// Params the provider names only with the grant: Pipedrive's company domain from a
/// field of the token answer (the entry's pattern takes its label out of the URL),
/// and Jira's cloud id from the accessible-resources call made with the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_named_by_the_grant_are_read_from_the_token_answer_and_a_call() {
    let w = world().await;
    let provider = quirky("pipedrive").await;
    let (_upstream, api) = upstream().await;
    let put = put_entry(
        &w,
        "crm",
        "pipedrive",
        merge(provider.urls(&api), json!({"apiBaseUrl": format!("{api}/{{company}}/api/v1")})),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let done = connect(&w, "crm", json!({})).await;
    assert_eq!(done["status"], "completed", "{done}");
    let echoed = proxy_echo(&w, "crm", "deals/echo").await;
    assert_eq!(echoed.json()["url"], "/acme/api/v1/deals/echo", "{}", echoed.text);

    let sites = json!([{"name": "cloudid", "label": "Atlassian site", "pattern": "^[0-9a-fA-F-]{36}$", "from": "call",
                        "url": format!("{api}/oauth/token/accessible-resources"), "field": "0.id"}]);
    let jira = json!({"apiBaseUrl": format!("{api}/ex/jira/{{cloudid}}"), "connectionParams": sites});
    let put = put_entry(&w, "jira", "jira", merge(provider.urls(&api), jira)).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let done = connect(&w, "jira", json!({})).await;
    assert_eq!(done["status"], "completed", "{done}");
    let echoed = proxy_echo(&w, "jira", "rest/api/3/echo").await;
    assert_eq!(
        echoed.json()["url"],
        "/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/echo",
        "{}",
        echoed.text
    );
}

/// `base` with the fields of `over` laid over it.
fn merge(mut base: Value, over: Value) -> Value {
    for (key, value) in over.as_object().unwrap() {
        base[key] = value.clone();
    }
    base
}

/// A grant the provider refuses at a background renewal (the user revoked access)
/// makes the connection `reauth_required`, with its event, before any call; a
/// `reconnect` session authorizes it again under the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_is_found_by_the_refresher_and_reconnected_in_place() {
    let w = world().await;
    let provider = quirky("basic,short,revoke-once").await;
    let (_upstream, api) = upstream().await;
    let put = put_entry(&w, "scale", "fitbit", provider.urls(&api)).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let done = connect(&w, "scale", json!({})).await;
    assert_eq!(done["status"], "completed", "{done}");
    let listed =
        || async { w.client.get("/v1/entities/user_123/connections", &w.app_headers()).await.json() };
    let mut status = Value::Null;
    for _ in 0..60 {
        status = listed().await[0]["status"].clone();
        if status == "reauth_required" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "reauth_required", "found without any call");
    let events = w.client.get("/v1/events?limit=100", &w.app_headers()).await.json();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"connection.reauth_required"), "{kinds:?}");
    assert!(proxy_echo(&w, "scale", "echo").await.status.is_client_error(), "no call with a refused grant");

    let id = listed().await[0]["connectionId"].as_str().unwrap().to_owned();
    let body = json!({"entityId": "user_123", "flow": "device", "reconnect": id});
    let (session_id, open) = device_page(&w, body).await;
    let form =
        open.post(&w.client, &format!("/connect/{session_id}/authorize"), &[("integration", "scale")]).await;
    assert_eq!(finish_at_provider(&w, &session_id, &open, form).await["status"], "completed");
    let again = listed().await;
    assert_eq!(again.as_array().unwrap().len(), 1, "{again}");
    assert_eq!(
        (again[0]["connectionId"].as_str(), again[0]["status"].as_str()),
        (Some(id.as_str()), Some("active"))
    );
}
