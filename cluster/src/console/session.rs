//! Console sessions: a random id in an HttpOnly, `SameSite=Strict` cookie
//! (`__Host-` prefixed on https) names a record in the store, so every node of a
//! cluster knows it and signing out ends it everywhere. The record keeps the
//! session's CSRF token and when it was last used: idle for `IDLE` or older than
//! `LONGEST`, it is over, and so is every session once the admin token changes (the
//! record names the token it was opened with). Only the id's SHA-256 is stored.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::server::AppState;
use securix_engine::store::{StoreError, pack};
use securix_engine::util::clock::{Clock, SystemClock, Timestamp};

/// How long a session lasts unused, and at most.
pub const IDLE_SECS: i64 = 30 * 60;
const LONGEST_SECS: i64 = 12 * 3600;
/// A session's last use is written at most this often.
const TOUCH_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleSession {
    #[serde(skip)]
    pub id: String,
    pub csrf: String,
    /// Which admin token opened it (a hash of its hash).
    #[serde(default)]
    pub token: String,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
}

fn now() -> Timestamp {
    SystemClock.now()
}

fn record_key(id: &str) -> Vec<u8> {
    let digest: String = Sha256::digest(id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    pack(&("console_session", digest))
}

pub fn is_secure(state: &AppState) -> bool {
    state.engine.settings().public_url.starts_with("https://")
}

pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-securix_console" } else { "securix_console" }
}

/// What a session records of the admin token: the token cannot be recovered from it.
fn token_mark(state: &AppState) -> String {
    let digest =
        Sha256::new().chain_update(b"securix-console\0").chain_update(state.admin_token_hash).finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random() -> String {
    securix_engine::flows::oauth::pkce::random_token().expose().to_owned()
}

/// Opens a session; the cookie to send names it.
pub async fn open(state: &AppState) -> Result<(ConsoleSession, Cookie<'static>), StoreError> {
    let at = now();
    let session = ConsoleSession {
        id: random(),
        csrf: random(),
        token: token_mark(state),
        created_at: at,
        last_seen: at,
    };
    let (key, value) = (record_key(&session.id), serde_json::to_vec(&session).unwrap_or_default());
    state
        .engine
        .store()
        .run(|tx| {
            let (key, value) = (key.clone(), value.clone());
            async move { tx.set(&key, &value) }
        })
        .await?;
    Ok((session.clone(), cookie(state, session.id)))
}

/// The cookie naming session `id` (empty and expired: the one that ends it).
pub fn cookie(state: &AppState, id: String) -> Cookie<'static> {
    let secure = is_secure(state);
    let ending = id.is_empty();
    let mut cookie = Cookie::build(cookie_name(secure), id)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    if ending {
        cookie.make_removal();
    }
    cookie
}

/// The live session the request's cookie names, its last use brought up to date.
pub async fn current(request: &HttpRequest, state: &AppState) -> Option<ConsoleSession> {
    let id = request.cookie(cookie_name(is_secure(state)))?.value().to_owned();
    if !(16..=128).contains(&id.len())
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let key = record_key(&id);
    let tx = state.engine.store().begin().await.ok()?;
    let mut session: ConsoleSession = serde_json::from_slice(&tx.get(&key).await.ok()??).ok()?;
    drop(tx);
    session.id = id;
    let at = now();
    let token_changed = session.token != token_mark(state);
    if token_changed
        || at.0 - session.last_seen.0 > IDLE_SECS * 1000
        || at.0 - session.created_at.0 > LONGEST_SECS * 1000
    {
        close(state, &session.id).await;
        return None;
    }
    if at.0 - session.last_seen.0 > TOUCH_SECS * 1000 {
        session.last_seen = at;
        let value = serde_json::to_vec(&session).unwrap_or_default();
        let touched = state.engine.store().run(|tx| {
            let (key, value) = (key.clone(), value.clone());
            async move { tx.set(&key, &value) }
        });
        if let Err(error) = touched.await {
            tracing::warn!(%error, "a console session's last use could not be written");
        }
    }
    Some(session)
}

/// Ends the session `id` names.
pub async fn close(state: &AppState, id: &str) {
    let key = record_key(id);
    let closed = state.engine.store().run(|tx| {
        let key = key.clone();
        async move { tx.clear(&key) }
    });
    if let Err(error) = closed.await {
        tracing::warn!(%error, "a console session could not be ended");
    }
}
