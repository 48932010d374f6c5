//! An auth session: one request to connect an entity to one or more providers,
//! by popup or by device code. It expires; its secrets go with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;

const WHAT: &str = "session";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Popup,
    Device,
}

/// The statuses of API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Pending,
    Authorizing,
    AwaitingConfirmation,
    Completed,
    Denied,
    Expired,
    Failed,
}

impl SessionStatus {
    /// The status as API.md spells it (what serde writes).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Pending => "pending",
            SessionStatus::Authorizing => "authorizing",
            SessionStatus::AwaitingConfirmation => "awaiting_confirmation",
            SessionStatus::Completed => "completed",
            SessionStatus::Denied => "denied",
            SessionStatus::Expired => "expired",
            SessionStatus::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            SessionStatus::Completed | SessionStatus::Denied | SessionStatus::Expired | SessionStatus::Failed
        )
    }
}

/// One provider (integration) a session asks for, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionProvider {
    pub scopes: Vec<String>,
    pub status: SessionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// Connection params: the app's, the user's, and those the grant answered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The connection this provider's grant re-authorizes (`reconnect`), keeping its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSession {
    pub id: String,
    pub project_id: String,
    pub agent_id: String,
    pub entity_id: String,
    pub flow: Flow,
    pub status: SessionStatus,
    /// Keyed by integration.
    pub providers: BTreeMap<String, SessionProvider>,
    /// `BASE64URL(SHA256(sxc))` for the popup flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sxc_challenge: Option<String>,
    /// The app origin the popup reports back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The normalized device code (8 characters, no dash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code: Option<String>,
    pub interval_secs: u32,
    /// SHA-256 of the browser id that first entered the device code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_binding: Option<String>,
    /// Why the session failed or was denied (the provider's words, never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub fn record_key(session_id: &str) -> Vec<u8> {
    keys::session(session_id)
}

fn device_code_key(code: &str) -> Vec<u8> {
    keys::index("device_code").pack(&code)
}

fn expiry_key(expires_at: Timestamp, session_id: &str) -> Vec<u8> {
    keys::index("session_expiry").pack(&(expires_at.0, session_id))
}

/// Every session of a project, newest first: keyed by the time left until the end
/// of time, so key order is newest first.
pub fn project_index(project_id: &str) -> crate::store::Subspace {
    keys::index("project_session").subspace(&(project_id,))
}

fn project_index_key(session: &AuthSession) -> Vec<u8> {
    project_index(&session.project_id).pack(&(i64::MAX - session.created_at.0, session.id.as_str()))
}

/// Sessions not yet final whose expiry is at or before `now`, oldest first.
pub async fn due(tx: &Tx, now: Timestamp, limit: usize) -> Result<Vec<String>, RecordError> {
    let space = keys::index("session_expiry");
    let (begin, _) = space.range();
    let end = space.pack(&(now.0.saturating_add(1),));
    let pairs = tx.get_range(&begin, &end, crate::store::RangeOptions::limit(limit)).await?;
    Ok(pairs
        .iter()
        .filter_map(|pair| space.unpack::<(i64, String)>(&pair.key).ok().map(|(_, id)| id))
        .collect())
}

/// Takes a session off the expiry index (it reached a final status).
pub fn unschedule(tx: &Tx, session: &AuthSession) -> Result<(), RecordError> {
    tx.clear(&expiry_key(session.expires_at, &session.id))?;
    Ok(())
}

/// Stores a new session and, for the device flow, its code index. A code already
/// taken by a live session is refused, so the caller draws another.
pub async fn create(tx: &Tx, session: &AuthSession) -> Result<(), RecordError> {
    ids::check_minted("ses", &session.id, "session id")?;
    if let Some(code) = &session.device_code {
        let index = device_code_key(code);
        if tx.get(&index).await?.is_some() {
            return Err(RecordError::AlreadyExists("device code"));
        }
        put_json(tx, &index, &session.id, WHAT)?;
    }
    tx.set(&expiry_key(session.expires_at, &session.id), b"")?;
    tx.set(&project_index_key(session), b"")?;
    put(tx, session)
}

/// Writes a changed session back.
pub fn put(tx: &Tx, session: &AuthSession) -> Result<(), RecordError> {
    put_json(tx, &record_key(&session.id), session, WHAT)
}

pub async fn get(tx: &Tx, session_id: &str) -> Result<Option<AuthSession>, RecordError> {
    if ids::check_minted("ses", session_id, "session id").is_err() {
        return Ok(None);
    }
    get_json(tx, &record_key(session_id), WHAT).await
}

pub async fn find_by_device_code(tx: &Tx, code: &str) -> Result<Option<AuthSession>, RecordError> {
    let Some(session_id) = get_json::<String>(tx, &device_code_key(code), WHAT).await? else {
        return Ok(None);
    };
    get(tx, &session_id).await
}

/// Frees a session's device code: it no longer leads anywhere.
pub fn release_device_code(tx: &Tx, session: &AuthSession) -> Result<(), RecordError> {
    if let Some(code) = &session.device_code {
        tx.clear(&device_code_key(code))?;
    }
    Ok(())
}

/// Removes a session and its code index (purge after expiry).
pub async fn delete(tx: &Tx, session_id: &str) -> Result<(), RecordError> {
    if let Some(session) = get(tx, session_id).await? {
        if let Some(code) = &session.device_code {
            tx.clear(&device_code_key(code))?;
        }
        tx.clear(&record_key(session_id))?;
        tx.clear(&project_index_key(&session))?;
        unschedule(tx, &session)?;
    }
    Ok(())
}
