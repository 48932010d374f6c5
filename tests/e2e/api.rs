//! The HTTP API end to end: a device flow and a popup flow against a real OAuth
//! server (oauth2-mock-server) through the generic `oauth2` plugin, a proxy call,
//! revocation; tenant isolation; a corpus of bad input; and a scan of everything
//! the tests saw for secrets.

use std::sync::{Arc, Mutex};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::peers::MockOAuth;
use crate::support::Server;

pub const ADMIN_TOKEN: &str = "admin-token-for-the-e2e-tests";
pub const CLIENT_SECRET: &str = "e2e-client-secret-never-shown";

/// A client that records every answer it sees, for the secrets scan.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub base: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn location(&self) -> String {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Client { http, base: base.to_owned(), seen: Arc::default() }
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Answer {
        let url = if url.starts_with("http") { url.to_owned() } else { format!("{}{url}", self.base) };
        let mut request = self.http.request(method, url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        self.seen.lock().unwrap().push(format!("{status} {headers:?} {text}"));
        Answer { status, headers, text }
    }

    pub async fn json(&self, method: Method, url: &str, headers: &[(&str, &str)], body: Value) -> Answer {
        self.send(method, url, headers, Some(body.to_string().into_bytes()), Some("application/json")).await
    }

    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(Method::GET, url, headers, None, None).await
    }
}

/// A server, a mock provider, and a project set up through the admin API.
pub struct World {
    pub server: Server,
    /// Kept alive for the test's length.
    pub mock: MockOAuth,
    pub client: Client,
    pub project_id: String,
    pub api_key: String,
}

/// The server settings of every world: webhook retries compressed to a second.
pub const WORLD_ENV: &[(&str, &str)] = &[
    ("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN),
    ("SECURIX_ALLOW_LOOPBACK_HTTP", "1"),
    ("SECURIX_WEBHOOK_SCHEDULE", "0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"),
];

pub async fn world() -> World {
    let mock = MockOAuth::start().await;
    let server = Server::start(WORLD_ENV).await;
    let client = Client::new(&server.base_url);
    let admin = [("securix-admin-token", ADMIN_TOKEN)];
    let project = client.json(Method::POST, "/v1/admin/projects", &admin, json!({"name": "Acme Corp"})).await;
    assert_eq!(project.status, 201, "{}", project.text);
    let project_id = project.json()["projectId"].as_str().unwrap().to_owned();
    let key = client
        .json(
            Method::POST,
            &format!("/v1/admin/projects/{project_id}/api-keys"),
            &admin,
            json!({"name": "backend"}),
        )
        .await;
    let api_key = key.json()["apiKey"].as_str().unwrap().to_owned();
    let agent = client
        .json(
            Method::POST,
            &format!("/v1/admin/projects/{project_id}/agents"),
            &admin,
            json!({"agentId": "cli"}),
        )
        .await;
    assert_eq!(agent.status, 201, "{}", agent.text);
    let origins = client
        .json(
            Method::PUT,
            &format!("/v1/admin/projects/{project_id}/origins"),
            &admin,
            json!({"origins": ["https://app.example"]}),
        )
        .await;
    assert_eq!(origins.status, 200, "{}", origins.text);
    let world = World { server, mock, client, project_id, api_key };
    let api_base = world.mock.base_url.clone();
    let integration = world.put_mock_integration(&api_base).await;
    assert_eq!(integration.status, 200, "{}", integration.text);
    assert!(!integration.text.contains(CLIENT_SECRET), "the secret is never echoed");
    world
}

impl World {
    pub fn app_headers(&self) -> Vec<(&str, &str)> {
        vec![
            ("securix-api-key", self.api_key.as_str()),
            ("securix-agent-id", "cli"),
            ("securix-entity-id", "user_123"),
        ]
    }

    /// Enables (or updates) the `mock` integration: the mock provider's OAuth
    /// endpoints, its API at `api_base`.
    pub async fn put_mock_integration(&self, api_base: &str) -> Answer {
        let path = format!("/v1/admin/projects/{}/integrations/mock", self.project_id);
        self.client
            .json(Method::PUT, &path, &[("securix-admin-token", ADMIN_TOKEN)], json!({
                "provider": "oauth2",
                "clientId": "securix-e2e",
                "clientSecret": CLIENT_SECRET,
                "scopes": ["openid", "profile"],
                "config": {"discoveryUrl": format!("{}/.well-known/openid-configuration", self.mock.base_url), "apiBaseUrl": api_base}
            }))
            .await
    }

    /// Registers a webhook endpoint for the world's project, as the admin.
    pub async fn add_webhook_endpoint(&self, url: &str) -> Answer {
        let path = format!("/v1/admin/projects/{}/webhook-endpoints", self.project_id);
        self.client
            .json(Method::POST, &path, &[("securix-admin-token", ADMIN_TOKEN)], json!({ "url": url }))
            .await
    }

    /// `POST /v1/sessions` for a device flow of `user_123` with the mock provider.
    pub async fn device_session(&self, headers: &[(&str, &str)]) -> Answer {
        let body = json!({"entityId": "user_123", "flow": "device", "providers": {"mock": {}}});
        self.client.json(Method::POST, "/v1/sessions", headers, body).await
    }

    /// The user's browser from the consent page to the callback.
    pub async fn consent(&self, session_id: &str, cookie: Option<&str>) -> Answer {
        browser_consent(&self.client, &self.server.base_url, session_id, cookie).await
    }
}

/// A page as a browser holds it: the browser cookie (the one it had, or the one the
/// page set) and the CSRF token its forms carry.
pub struct OpenPage {
    pub page: Answer,
    pub cookie: String,
    pub csrf: String,
}

impl OpenPage {
    /// Posts one of the page's forms to `path` from this browser: its cookie, its
    /// token, and the `Sec-Fetch-Site` a browser sends for its own page's form.
    pub async fn post(&self, client: &Client, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form = reqwest::Url::parse("http://x/").unwrap();
        form.query_pairs_mut().append_pair("csrf", &self.csrf).extend_pairs(fields);
        let headers = [("cookie", self.cookie.as_str()), ("sec-fetch-site", "same-origin")];
        let body = form.query().unwrap().as_bytes().to_vec();
        client.send(Method::POST, path, &headers, Some(body), Some("application/x-www-form-urlencoded")).await
    }
}

/// Creates a device session with `body` (201 expected), enters its code in a fresh
/// browser and opens its connect page there.
pub async fn device_page(w: &World, body: Value) -> (String, OpenPage) {
    let created = w.client.json(Method::POST, "/v1/sessions", &w.app_headers(), body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let code = created.json()["deviceAuthCode"].as_str().unwrap().to_owned();
    let (session_id, cookie) = enter_code(&w.client, &code).await;
    let open = open_page(&w.client, &format!("/connect/{session_id}"), Some(&cookie)).await;
    (session_id, open)
}

/// Opens `path` in the browser holding `cookie` (a fresh browser when `None`).
pub async fn open_page(client: &Client, path: &str, cookie: Option<&str>) -> OpenPage {
    let cookie_header: Vec<(&str, &str)> = cookie.map(|c| vec![("cookie", c)]).unwrap_or_default();
    let page = client.get(path, &cookie_header).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let set = page.headers.get("set-cookie").map(|v| v.to_str().unwrap().to_owned());
    if let Some(set) = &set {
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    }
    let cookie = match (set, cookie) {
        (Some(set), _) => set.split(';').next().unwrap().to_owned(),
        (None, Some(cookie)) => cookie.to_owned(),
        (None, None) => panic!("a page opened in a new browser sets its cookie"),
    };
    let marker = "name=\"csrf\" value=\"";
    let at =
        page.text.find(marker).unwrap_or_else(|| panic!("no CSRF token in {}", page.text)) + marker.len();
    let csrf = page.text[at..].split('"').next().unwrap().to_owned();
    OpenPage { page, cookie, csrf }
}

/// The consent page in a browser, through the provider's approval, to the callback.
pub async fn browser_consent(
    client: &Client,
    server_base: &str,
    session_id: &str,
    cookie: Option<&str>,
) -> Answer {
    let open = open_page(client, &format!("/connect/{session_id}"), cookie).await;
    let csp = open.page.headers["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        open.page.text.contains("Acme Corp")
            && open.page.text.contains("cli")
            && open.page.text.contains("openid"),
        "{}",
        open.page.text
    );
    let form =
        open.post(client, &format!("/connect/{session_id}/authorize"), &[("integration", "mock")]).await;
    assert_eq!(form.status, 303, "{}", form.text);
    let at_provider = client.get(&form.location(), &[]).await;
    assert_eq!(at_provider.status, 302, "the mock provider approves and redirects back");
    let callback = at_provider.location();
    assert!(callback.starts_with(&format!("{server_base}/oauth/callback?")), "{callback}");
    let done = client.get(&callback, &[("cookie", open.cookie.as_str())]).await;
    assert_eq!(done.headers["referrer-policy"], "same-origin");
    done
}

/// Enters a device code as a browser; returns the session id and the browser cookie.
pub async fn enter_code(client: &Client, code: &str) -> (String, String) {
    let open = open_page(client, "/device", None).await;
    let entered = open.post(client, "/device", &[("code", &code.to_lowercase())]).await;
    assert_eq!(entered.status, 303, "{}", entered.text);
    let session_id = entered.location().trim_start_matches("/connect/").to_owned();
    (session_id, open.cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_then_proxy_then_revocation() {
    let w = world().await;
    let headers = w.app_headers();
    let created = w.device_session(&headers).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    let session_id = body["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(body["authUrl"], format!("{}/device", w.server.base_url));
    assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
    let code = body["deviceAuthCode"].as_str().unwrap().to_owned();

    let (entered, cookie) = enter_code(&w.client, &code).await;
    assert_eq!(entered, session_id);
    // Another browser (no cookie) cannot drive this session.
    assert_eq!(w.client.get(&format!("/connect/{session_id}"), &[]).await.status, 403);
    let done = w.consent(&session_id, Some(&cookie)).await;
    assert_eq!(done.status, 200, "{}", done.text);

    let status = w.client.get(&format!("/v1/sessions/{session_id}?wait=5"), &headers).await;
    assert_eq!(status.json()["status"], "completed", "{}", status.text);
    let connections = w.client.get("/v1/entities/user_123/connections", &headers).await;
    let list = connections.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{}", connections.text);
    let connection_id = list[0]["connectionId"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["integration"], "mock");
    assert!(list[0]["account"]["id"].as_str().is_some_and(|id| !id.is_empty()));

    // The proxy: the mock's userinfo answers only with a valid bearer token, which
    // SecuriX injected; the caller's own Authorization header never got through.
    let mut proxy_headers = headers.clone();
    proxy_headers.push(("authorization", "Bearer the-apps-own-credential"));
    let proxied = w.client.get("/v1/proxy/mock/userinfo", &proxy_headers).await;
    assert_eq!(proxied.status, 200, "{}", proxied.text);
    assert_eq!(proxied.json()["sub"], list[0]["account"]["id"]);

    // The audit record is committed off the request's path: give it a moment.
    let mut audit = Value::Null;
    for _ in 0..50 {
        audit = w.client.get("/v1/entities/user_123/audit", &headers).await.json();
        if audit.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(audit[0]["agentId"], "cli", "{audit}");
    assert_eq!(audit[0]["host"], "localhost");
    assert_eq!(audit[0]["connectionId"], list[0]["connectionId"]);
    let events = w.client.get("/v1/events", &headers).await;
    let kinds: Vec<String> =
        events.json().as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["connection.created", "session.completed"]);

    let revoked = w
        .client
        .send(
            Method::DELETE,
            &format!("/v1/entities/user_123/connections/{connection_id}"),
            &headers,
            None,
            None,
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    assert_eq!(w.client.get("/v1/entities/user_123/connections", &headers).await.json(), json!([]));
    assert_eq!(w.client.get("/v1/proxy/mock/userinfo", &headers).await.status, 404);
    scan_for_secrets(&w, &[CLIENT_SECRET]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popup_flow_over_http_with_confirm() {
    let w = world().await;
    let headers = w.app_headers();
    let sxc = "a-random-sxc-the-button-made-0123456789ab";
    let challenge = securix_engine::flows::oauth::pkce::s256(sxc);
    let request = json!({"entityId": "user_123", "flow": "popup", "providers": {"mock": {"scopes": ["openid"]}}, "sxcChallenge": challenge, "origin": "https://app.example"});
    let created = w.client.json(Method::POST, "/v1/sessions", &headers, request).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let session_id = created.json()["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(created.json()["authUrl"], format!("{}/connect/{session_id}", w.server.base_url));

    let done = w.consent(&session_id, None).await;
    assert_eq!(done.status, 200, "{}", done.text);
    // The popup posts to the app's exact origin, never '*', and carries no secret.
    assert!(
        done.text.contains("postMessage(message, result.origin)")
            && done.text.contains("data-origin=\"https://app.example\""),
        "{}",
        done.text
    );
    assert!(!done.text.contains("\"*\""));
    assert_eq!(
        w.client.get(&format!("/v1/sessions/{session_id}"), &headers).await.json()["status"],
        "awaiting_confirmation"
    );
    assert_eq!(w.client.get("/v1/entities/user_123/connections", &headers).await.json(), json!([]));

    let wrong = w
        .client
        .json(Method::POST, &format!("/v1/sessions/{session_id}/confirm"), &headers, json!({"sxc": "wrong"}))
        .await;
    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.headers["content-type"], "application/problem+json");
    let confirmed = w
        .client
        .json(Method::POST, &format!("/v1/sessions/{session_id}/confirm"), &headers, json!({"sxc": sxc}))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.json()["status"], "completed");
    let replay = w
        .client
        .json(Method::POST, &format!("/v1/sessions/{session_id}/confirm"), &headers, json!({"sxc": sxc}))
        .await;
    assert_eq!(replay.status, 403);
    assert_eq!(
        w.client.get("/v1/entities/user_123/connections", &headers).await.json().as_array().unwrap().len(),
        1
    );
    scan_for_secrets(&w, &[CLIENT_SECRET, sxc]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_isolated_and_identity_headers_are_required() {
    let w = world().await;
    let admin = [("securix-admin-token", ADMIN_TOKEN)];
    let other = w
        .client
        .json(Method::POST, "/v1/admin/projects", &admin, json!({"name": "Other"}))
        .await
        .json()["projectId"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_key = w
        .client
        .json(Method::POST, &format!("/v1/admin/projects/{other}/api-keys"), &admin, json!({"name": "k"}))
        .await
        .json()["apiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let headers = w.app_headers();
    let created = w.device_session(&headers).await;
    let session_id = created.json()["sessionId"].as_str().unwrap().to_owned();
    let foreign = [("securix-api-key", other_key.as_str()), ("securix-agent-id", "cli")];
    let stranger = w.client.get(&format!("/v1/sessions/{session_id}"), &foreign).await;
    let unknown = w.client.get("/v1/sessions/ses_aaaaaaaaaaaaaaaaaaaaaaaaaa", &headers).await;
    assert_eq!(
        (stranger.status, unknown.status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND),
        "a foreign id answers like an unknown one"
    );
    assert_eq!(
        w.client
            .json(
                Method::POST,
                "/v1/sessions",
                &foreign,
                json!({"entityId": "u", "flow": "device", "providers": {"mock": {}}})
            )
            .await
            .status,
        404
    );

    assert_eq!(w.client.get("/v1/integrations", &[]).await.status, 401);
    assert_eq!(w.client.get("/v1/integrations", &[("securix-api-key", "sxk_wrong")]).await.status, 401);
    assert_eq!(
        w.client
            .json(
                Method::POST,
                "/v1/admin/projects",
                &[("securix-admin-token", "wrong")],
                json!({"name": "x"})
            )
            .await
            .status,
        401
    );
    let no_agent = w
        .client
        .json(
            Method::POST,
            "/v1/sessions",
            &[("securix-api-key", w.api_key.as_str())],
            json!({"entityId": "u", "flow": "device", "providers": {"mock": {}}}),
        )
        .await;
    assert_eq!(no_agent.status, 400, "{}", no_agent.text);
    let no_entity = w
        .client
        .get(
            "/v1/proxy/mock/userinfo",
            &[("securix-api-key", w.api_key.as_str()), ("securix-agent-id", "cli")],
        )
        .await;
    assert_eq!(no_entity.status, 400);
    let unknown_agent = w
        .client
        .json(
            Method::POST,
            "/v1/sessions",
            &[("securix-api-key", w.api_key.as_str()), ("securix-agent-id", "ghost")],
            json!({"entityId": "u", "flow": "device", "providers": {"mock": {}}}),
        )
        .await;
    assert_eq!(unknown_agent.status, 404);

    // A deleted key stops working at once.
    let key_id = w
        .client
        .json(
            Method::POST,
            &format!("/v1/admin/projects/{other}/api-keys"),
            &admin,
            json!({"name": "doomed"}),
        )
        .await
        .json();
    let doomed = key_id["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(w.client.get("/v1/integrations", &[("securix-api-key", doomed.as_str())]).await.status, 200);
    let deleted = w
        .client
        .send(
            Method::DELETE,
            &format!("/v1/admin/projects/{other}/api-keys/{}", key_id["apiKeyId"].as_str().unwrap()),
            &admin,
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(w.client.get("/v1/integrations", &[("securix-api-key", doomed.as_str())]).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_the_server_stays_healthy() {
    let w = world().await;
    let headers = w.app_headers();
    let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    type Case = (Method, String, Option<Vec<u8>>, Option<&'static str>);
    let corpus: Vec<Case> = vec![
        (Method::POST, "/v1/sessions".into(), Some(b"{not json".to_vec()), Some("application/json")),
        (Method::POST, "/v1/sessions".into(), Some(vec![0xff, 0xfe, 0x00, 0x7b]), Some("application/json")),
        (Method::POST, "/v1/sessions".into(), Some(deep.into_bytes()), Some("application/json")),
        (Method::POST, "/v1/sessions".into(), Some(vec![b' '; 200_000]), Some("application/json")),
        (
            Method::POST,
            "/v1/sessions".into(),
            Some(br#"{"entityId":"a b","flow":"device","providers":{"mock":{}}}"#.to_vec()),
            Some("application/json"),
        ),
        (
            Method::POST,
            "/v1/sessions".into(),
            Some(br#"{"entityId":"u","flow":"teleport","providers":{}}"#.to_vec()),
            Some("application/json"),
        ),
        (
            Method::POST,
            "/v1/sessions".into(),
            Some(br#"{"entityId":"u","flow":"device","providers":{"mock":{}},"surprise":1}"#.to_vec()),
            Some("application/json"),
        ),
        (
            Method::POST,
            "/v1/sessions".into(),
            Some(br#"{"entityId":"u","flow":"device","providers":{}}"#.to_vec()),
            Some("text/plain"),
        ),
        (Method::GET, "/v1/sessions/..%2F..%2Fetc".into(), None, None),
        (Method::GET, "/v1/sessions/ses_x?wait=forever".into(), None, None),
        (Method::GET, "/v1/proxy/mock/../../v1/admin".into(), None, None),
        (Method::GET, "/v1/proxy/mock/a//b".into(), None, None),
        (Method::GET, "/v1/proxy/mock/a%2Fb".into(), None, None),
        (Method::GET, "/v1/proxy/mock/http://evil.example/".into(), None, None),
        (Method::GET, "/v1/proxy/mock/%2e%2e/token".into(), None, None),
        (Method::GET, "/v1/entities/a%0Db/connections".into(), None, None),
        (Method::GET, "/nowhere".into(), None, None),
    ];
    for (method, path, body, content_type) in corpus {
        let answer = w.client.send(method.clone(), &path, &headers, body, content_type).await;
        assert!(
            answer.status.is_client_error(),
            "{method} {path} answered {}: {}",
            answer.status,
            answer.text
        );
        assert!(
            answer.headers.get("content-type").is_some_and(|ct| ct == "application/problem+json"),
            "{method} {path}: {:?}",
            answer.headers
        );
        let problem = answer.json();
        assert!(
            problem["type"].as_str().unwrap_or_default().starts_with("https://securix.dev/problems/")
                && problem["detail"].is_string(),
            "{}",
            answer.text
        );
    }
    // Headers: CRLF cannot even be sent; a huge header is refused, not a crash.
    let huge = "x".repeat(64 * 1024);
    let big_header = reqwest::Client::new()
        .get(format!("{}/v1/integrations", w.server.base_url))
        .header("x-huge", huge)
        .send()
        .await;
    let status = big_header.as_ref().map(|r| r.status());
    assert!(status.is_ok_and(|s| s.is_client_error()), "a huge header is refused with a 4xx: {status:?}");
    let device_page = w
        .client
        .send(
            Method::POST,
            "/device",
            &[],
            Some(b"code=%FF%FE".to_vec()),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert!(device_page.status.is_client_error());
    assert_eq!(w.client.get("/healthz", &[]).await.status, 200, "still healthy");
    assert_eq!(w.client.get("/readyz", &[]).await.status, 200);
    let metrics = w.client.get("/metrics", &[]).await;
    assert!(
        metrics.text.contains("securix_http_client_errors_total")
            && !metrics.text.contains("securix_http_server_errors_total 1")
    );
    let openapi = w.client.get("/openapi.json", &[]).await.json();
    assert!(
        openapi["paths"]["/v1/sessions"]["post"].is_object()
            && openapi["paths"]["/v1/proxy/{integration}/{path}"]["get"].is_object()
    );
}

/// SIGTERM: the server stops taking connections, answers the requests it has (a
/// long poll here), then exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_then_exits() {
    let mut w = world().await;
    let headers = w.app_headers();
    let session = w
        .client
        .json(
            Method::POST,
            "/v1/sessions",
            &headers,
            json!({"entityId": "user_123", "flow": "device", "providers": {"mock": {}}}),
        )
        .await;
    assert_eq!(session.status, 201, "{}", session.text);
    let url =
        format!("{}/v1/sessions/{}?wait=2", w.server.base_url, session.json()["sessionId"].as_str().unwrap());
    let mut long_poll = reqwest::Client::new().get(url);
    for (name, value) in &headers {
        long_poll = long_poll.header(*name, *value);
    }
    let started = std::time::Instant::now();
    let in_flight = tokio::spawn(long_poll.send());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    w.server.signal("TERM");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let refused = reqwest::Client::new().get(format!("{}/healthz", w.server.base_url)).send().await;
    assert!(refused.is_err(), "a stopping server takes no new connections: {refused:?}");
    let answer = in_flight.await.unwrap().expect("the request in flight is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["status"], "pending");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "it waited its full time");
    let exit = w.server.exit_status(std::time::Duration::from_secs(10)).await;
    assert!(exit.is_some_and(|status| status.success()), "{exit:?}");
}

/// Nothing the tests saw, nor anything the server logged, carries a secret.
fn scan_for_secrets(w: &World, secrets: &[&str]) {
    let seen = w.client.seen.lock().unwrap().join("\n");
    let printed = w.server.stdout.lock().unwrap().join("\n") + &w.server.stderr.lock().unwrap().join("\n");
    for secret in secrets.iter().chain([&w.api_key.as_str()]) {
        let in_answers = seen.matches(secret).count();
        // The API key appears once: in the answer that created it.
        let allowed = usize::from(*secret == w.api_key.as_str());
        assert!(in_answers <= allowed, "{secret} appeared {in_answers} times in answers");
        assert!(!printed.contains(secret), "{secret} appeared in the server's output");
    }
}
