//! An auth session: one request to connect an entity to one or more providers,
//! by popup or by device code. It expires; its secrets go with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::clock::Timestamp;
use crate::store::Tx;

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
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub fn record_key(session_id: &str) -> Vec<u8> {
    keys::session(session_id)
}

fn device_code_key(code: &str) -> Vec<u8> {
    keys::index("device_code").pack(&code)
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

/// Removes a session and its code index (purge after expiry).
pub async fn delete(tx: &Tx, session_id: &str) -> Result<(), RecordError> {
    if let Some(session) = get(tx, session_id).await? {
        if let Some(code) = &session.device_code {
            tx.clear(&device_code_key(code))?;
        }
        tx.clear(&record_key(session_id))?;
    }
    Ok(())
}
