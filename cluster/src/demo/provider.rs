//! The demo's OAuth 2.0 provider: a real authorization server (discovery, an
//! authorize page where the newcomer approves or declines, code exchange with PKCE
//! S256 and client authentication, rotating refresh tokens, userinfo, revocation),
//! kept in memory. It exists so `securix demo` needs no third-party credentials.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use securix_engine::flows::oauth::pkce;
use serde::Deserialize;
use serde_json::json;

use super::html::{escape, page};

pub const CLIENT_ID: &str = "securix-demo";
const CODE_LIFETIME: Duration = Duration::from_secs(60);
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// A code handed to the browser, waiting for its exchange.
struct PendingCode {
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    user: String,
    issued: Instant,
}

struct ProviderState {
    issuer: String,
    client_secret: String,
    codes: Mutex<HashMap<String, PendingCode>>,
    /// Access and refresh tokens → the user they were issued to.
    tokens: Mutex<HashMap<String, String>>,
}

/// A running demo provider.
pub struct DemoProvider {
    pub issuer: String,
    pub client_secret: String,
}

/// Starts the provider on a free loopback port; it stops with the actix system.
pub async fn start() -> anyhow::Result<DemoProvider> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("cannot bind the demo provider")?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let client_secret = pkce::random_token().expose().to_owned();
    let state = web::Data::new(ProviderState {
        issuer: issuer.clone(),
        client_secret: client_secret.clone(),
        codes: Mutex::default(),
        tokens: Mutex::default(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::FormConfig::default().limit(16 << 10))
            .route("/.well-known/openid-configuration", web::get().to(discovery))
            .route("/authorize", web::get().to(authorize_page))
            .route("/authorize", web::post().to(authorize_decision))
            .route("/token", web::post().to(token))
            .route("/userinfo", web::get().to(userinfo))
            .route("/revoke", web::post().to(revoke))
    })
    .workers(1)
    .listen(listener)?
    .run();
    actix_web::rt::spawn(server);
    Ok(DemoProvider { issuer, client_secret })
}

async fn discovery(state: web::Data<ProviderState>) -> HttpResponse {
    let issuer = &state.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email"],
    }))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// "Sign in to Demo Provider": a name to sign in as, Approve or Decline.
async fn authorize_page(query: web::Query<AuthorizeQuery>) -> HttpResponse {
    if query.client_id != CLIENT_ID {
        return page(StatusCode::BAD_REQUEST, "Demo provider", "<h1>Unknown client_id</h1>", None, "");
    }
    if query.code_challenge.is_some() && query.code_challenge_method.as_deref() != Some("S256") {
        return page(
            StatusCode::BAD_REQUEST,
            "Demo provider",
            "<h1>Only PKCE S256 is supported</h1>",
            None,
            "",
        );
    }
    let hidden = |name: &str, value: &str| {
        format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value))
    };
    let fields = [
        hidden("redirect_uri", &query.redirect_uri),
        hidden("state", query.state.as_deref().unwrap_or_default()),
        hidden("scope", query.scope.as_deref().unwrap_or_default()),
        hidden("code_challenge", query.code_challenge.as_deref().unwrap_or_default()),
    ]
    .concat();
    let body = format!(
        "<h1>Demo Provider</h1><p>SecuriX (<code>{CLIENT_ID}</code>) asks to access: <code>{}</code></p>\
         <form method=\"post\" action=\"/authorize\" class=\"card\">{fields}\
         <p><label>Sign in as <input name=\"user\" value=\"Ada Lovelace\" maxlength=\"64\" required></label></p>\
         <button class=\"primary\" name=\"decision\" value=\"approve\" type=\"submit\">Approve</button> \
         <button name=\"decision\" value=\"deny\" type=\"submit\">Decline</button></form>\
         <p class=\"muted\">A local stand-in for Google, GitHub and the rest, so the demo needs no credentials.</p>",
        escape(query.scope.as_deref().unwrap_or("(none)"))
    );
    // The form posts here, then the browser goes on to SecuriX's callback.
    page(StatusCode::OK, "Demo provider", &body, None, "http://127.0.0.1:* http://localhost:*")
}

#[derive(Deserialize)]
struct Decision {
    redirect_uri: String,
    state: String,
    scope: String,
    code_challenge: String,
    user: String,
    decision: String,
}

async fn authorize_decision(state: web::Data<ProviderState>, form: web::Form<Decision>) -> HttpResponse {
    let form = form.into_inner();
    let Ok(mut target) = reqwest::Url::parse(&form.redirect_uri) else {
        return HttpResponse::BadRequest().body("bad redirect_uri");
    };
    {
        let mut query = target.query_pairs_mut();
        if form.decision == "approve" {
            let code = pkce::random_token().expose().to_owned();
            let user = form.user.trim().chars().take(64).collect::<String>();
            let pending = PendingCode {
                redirect_uri: form.redirect_uri.clone(),
                challenge: (!form.code_challenge.is_empty()).then_some(form.code_challenge),
                scope: form.scope,
                user: if user.is_empty() { "Ada Lovelace".into() } else { user },
                issued: Instant::now(),
            };
            if let Ok(mut codes) = state.codes.lock() {
                codes.retain(|_, c| c.issued.elapsed() < CODE_LIFETIME);
                codes.insert(code.clone(), pending);
            }
            query.append_pair("code", &code);
        } else {
            query.append_pair("error", "access_denied");
        }
        query.append_pair("state", &form.state).append_pair("iss", &state.issuer);
    }
    HttpResponse::SeeOther().insert_header(("location", target.to_string())).finish()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": error }))
}

async fn token(
    state: web::Data<ProviderState>,
    request: HttpRequest,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    if !client_authenticated(&state, &request, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let (user, scope) = match form.grant_type.as_str() {
        "authorization_code" => {
            let pending = form.code.as_ref().and_then(|code| state.codes.lock().ok()?.remove(code));
            let Some(pending) = pending.filter(|p| p.issued.elapsed() < CODE_LIFETIME) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier_ok = match (&pending.challenge, &form.code_verifier) {
                (Some(challenge), Some(verifier)) => pkce::matches_challenge(verifier, challenge),
                (None, _) => true,
                (Some(_), None) => false,
            };
            if !verifier_ok || form.redirect_uri.as_deref() != Some(pending.redirect_uri.as_str()) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            (pending.user, pending.scope)
        }
        "refresh_token" => {
            // Refresh tokens rotate: the old one is spent.
            let user =
                form.refresh_token.as_ref().and_then(|t| state.tokens.lock().ok()?.remove(&format!("r:{t}")));
            let Some(user) = user else { return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant") };
            (user, String::new())
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    };
    let access = pkce::random_token().expose().to_owned();
    let refresh = pkce::random_token().expose().to_owned();
    if let Ok(mut tokens) = state.tokens.lock() {
        tokens.insert(format!("a:{access}"), user.clone());
        tokens.insert(format!("r:{refresh}"), user);
    }
    HttpResponse::Ok().insert_header(("cache-control", "no-store")).json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "refresh_token": refresh,
        "scope": scope,
    }))
}

/// `client_secret_post` or `client_secret_basic`, compared in constant time.
fn client_authenticated(state: &ProviderState, request: &HttpRequest, form: &TokenForm) -> bool {
    use base64::Engine as _;
    let basic = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| pair.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    let (id, secret) = match (basic, &form.client_id, &form.client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        _ => return false,
    };
    let same = subtle::ConstantTimeEq::ct_eq(secret.as_bytes(), state.client_secret.as_bytes());
    id == CLIENT_ID && bool::from(same)
}

async fn userinfo(state: web::Data<ProviderState>, request: HttpRequest) -> HttpResponse {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let user = token.and_then(|t| state.tokens.lock().ok()?.get(&format!("a:{t}")).cloned());
    let Some(user) = user else { return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token") };
    let login: String = user.to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
    HttpResponse::Ok().json(json!({
        "sub": format!("demo|{login}"),
        "name": user,
        "email": format!("{login}@demo.securix.invalid"),
    }))
}

#[derive(Deserialize)]
struct RevokeForm {
    token: String,
}

async fn revoke(state: web::Data<ProviderState>, form: web::Form<RevokeForm>) -> HttpResponse {
    if let Ok(mut tokens) = state.tokens.lock() {
        tokens.remove(&format!("a:{}", form.token));
        tokens.remove(&format!("r:{}", form.token));
    }
    HttpResponse::Ok().finish()
}
