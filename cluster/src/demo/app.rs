//! The demo's app: a page with both flows, and the small backend an app needs (the
//! routes `@securix/core` provides in Node), calling SecuriX over HTTP with its API
//! key like any app would. The browser never sees the key or a token.

use std::net::SocketAddr;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use reqwest::Method;
use securix_client::{Client, ClientError, NewSession};
use serde::Deserialize;
use serde_json::json;

use super::html::page_with_policy;

/// The one end user of the demo; a real app names its signed-in user here.
pub const DEMO_ENTITY: &str = "demo_user";
/// The demo project's integration key.
pub const INTEGRATION: &str = "demo";

struct DemoApp {
    securix: Client,
    securix_url: String,
    origin: String,
}

/// Binds the app's port first: SecuriX must know the app's origin before the app runs.
pub fn bind() -> anyhow::Result<(std::net::TcpListener, String)> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("cannot bind the demo app")?;
    let origin = format!("http://{}", listener.local_addr()?);
    Ok((listener, origin))
}

/// Serves the app on `listener`; it stops with the actix system.
pub fn start(
    listener: std::net::TcpListener,
    origin: String,
    securix: Client,
    securix_url: String,
) -> anyhow::Result<()> {
    let state = web::Data::new(DemoApp { securix, securix_url, origin });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::JsonConfig::default().limit(16 << 10))
            .route("/", web::get().to(home))
            .route("/api/securix/init", web::post().to(init))
            .route("/api/securix/status", web::get().to(status))
            .route("/api/securix/confirm", web::post().to(confirm))
            .route("/api/device", web::post().to(device))
            .route("/api/connections", web::get().to(connections))
            .route("/api/whoami", web::get().to(whoami))
    })
    .workers(1)
    .listen(listener)?
    .run();
    actix_web::rt::spawn(server);
    Ok(())
}

fn failure(error: ClientError) -> HttpResponse {
    let status = match &error {
        ClientError::Api { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
        _ => StatusCode::BAD_GATEWAY,
    };
    HttpResponse::build(status).json(json!({ "title": "SecuriX refused", "detail": error.to_string() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitBody {
    sxc_challenge: String,
}

async fn init(app: web::Data<DemoApp>, body: web::Json<InitBody>) -> HttpResponse {
    let session = NewSession::popup(DEMO_ENTITY, &[INTEGRATION], &body.sxc_challenge, &app.origin);
    match app.securix.create_session(&session).await {
        Ok(created) => HttpResponse::Created().json(json!({
            "sessionId": created.session_id,
            "authUrl": created.auth_url,
            "expiresAt": created.expires_at,
        })),
        Err(error) => failure(error),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusQuery {
    session_id: String,
    wait: Option<u64>,
}

async fn status(app: web::Data<DemoApp>, query: web::Query<StatusQuery>) -> HttpResponse {
    match app.securix.session(&query.session_id, Some(query.wait.unwrap_or(0).min(25))).await {
        Ok(view) => HttpResponse::Ok().json(json!({ "sessionId": view.session_id, "status": view.status })),
        Err(error) => failure(error),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody {
    session_id: String,
    sxc: String,
}

async fn confirm(app: web::Data<DemoApp>, body: web::Json<ConfirmBody>) -> HttpResponse {
    match app.securix.confirm(&body.session_id, &body.sxc).await {
        Ok(confirmed) => HttpResponse::Ok().json(confirmed),
        Err(error) => failure(error),
    }
}

async fn device(app: web::Data<DemoApp>) -> HttpResponse {
    match app.securix.create_session(&NewSession::device(DEMO_ENTITY, &[INTEGRATION])).await {
        Ok(created) => HttpResponse::Created().json(json!({
            "sessionId": created.session_id,
            "authUrl": created.auth_url,
            "deviceAuthCode": created.device_auth_code,
            "expiresAt": created.expires_at,
        })),
        Err(error) => failure(error),
    }
}

async fn connections(app: web::Data<DemoApp>) -> HttpResponse {
    match app.securix.connections(DEMO_ENTITY).await {
        Ok(list) => HttpResponse::Ok().json(list),
        Err(error) => failure(error),
    }
}

/// Each connected account's userinfo, fetched through SecuriX's proxy.
async fn whoami(app: web::Data<DemoApp>) -> HttpResponse {
    let connections = match app.securix.connections(DEMO_ENTITY).await {
        Ok(connections) => connections,
        Err(error) => return failure(error),
    };
    let mut accounts = Vec::new();
    for connection in &connections {
        let call = app.securix.proxy(
            Method::GET,
            INTEGRATION,
            "userinfo",
            DEMO_ENTITY,
            Some(&connection.connection_id),
            None,
        );
        match call.await {
            Ok(answer) => accounts.push(json!({
                "connectionId": connection.connection_id,
                "status": answer.status().as_u16(),
                "userinfo": answer.json::<serde_json::Value>().await.unwrap_or_default(),
            })),
            Err(error) => return failure(error),
        }
    }
    HttpResponse::Ok().json(accounts)
}

const BODY: &str = "<h1>SecuriX demo app</h1>\
<p class=\"muted\">An app connecting its user <code>demo_user</code> to the local Demo Provider. \
It holds a SecuriX API key on its server; this page never sees it, nor any provider token.</p>\
<section class=\"card\"><h2>Popup flow</h2><button class=\"primary\" id=\"popup\" type=\"button\">Connect Securely</button>\
<p id=\"popup-result\" role=\"status\"></p></section>\
<section class=\"card\"><h2>Device flow</h2><button id=\"device\" type=\"button\">Get a device code</button>\
<p id=\"device-result\" role=\"status\"></p></section>\
<section class=\"card\"><h2>Connections</h2><ul id=\"connections\"></ul>\
<button id=\"whoami\" type=\"button\">Call the provider through the proxy (each account)</button><pre id=\"whoami-result\"></pre></section>";

async fn home(app: web::Data<DemoApp>) -> HttpResponse {
    let securix = serde_json::to_string(&app.securix_url).unwrap_or_default();
    let script = format!(
        "const securix = {securix};\
const $ = (id) => document.getElementById(id);\
const sdk = import(securix + '/sdk/securix.js');\
let connectFn;\
sdk.then((m) => {{ connectFn = m.connect; }});\
async function refresh() {{\
  const list = await (await fetch('/api/connections')).json();\
  $('connections').replaceChildren(...list.map((c) => {{ const li = document.createElement('li');\
    li.textContent = c.integration + ': ' + (c.account.email || c.account.id) + ' (' + c.status + ')'; return li; }}));\
}}\
$('popup').addEventListener('click', () => {{\
  if (!connectFn) return;\
  $('popup-result').textContent = 'Waiting for the popup…';\
  connectFn({{ entityId: 'demo_user', providers: {{ demo: {{ scopes: ['openid', 'profile', 'email'] }} }} }}).then((r) => {{\
    $('popup-result').textContent = r.success ? 'Connected.' : 'Not connected: ' + r.reason; refresh(); }});\
}});\
$('device').addEventListener('click', async () => {{\
  const s = await (await fetch('/api/device', {{ method: 'POST' }})).json();\
  const link = document.createElement('a'); link.href = s.authUrl; link.target = '_blank'; link.textContent = s.authUrl;\
  $('device-result').replaceChildren('Open ', link, ' and enter ', Object.assign(document.createElement('code'), {{ textContent: s.deviceAuthCode }}), ' — waiting…');\
  for (;;) {{\
    const v = await (await fetch('/api/securix/status?wait=25&sessionId=' + encodeURIComponent(s.sessionId))).json();\
    if (!['pending', 'authorizing'].includes(v.status)) {{ $('device-result').textContent = 'Device flow: ' + v.status; refresh(); return; }}\
  }}\
}});\
$('whoami').addEventListener('click', async () => {{\
  const r = await fetch('/api/whoami'); $('whoami-result').textContent = r.status + ' ' + JSON.stringify(await r.json(), null, 2);\
}});\
refresh();"
    );
    page_with_policy(StatusCode::OK, "Demo app", BODY, Some(&script), |nonce| {
        format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}' {0}; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            app.securix_url
        )
    })
}
