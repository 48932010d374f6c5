//! One authorization at one provider for one session: the `state` sent to the
//! provider names it, it holds the sealed PKCE verifier, and it is used once.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::model::{RecordError, get_json, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;
use crate::vault::{Ciphertext, Vault};

const WHAT: &str = "authorization";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthTransaction {
    pub session_id: String,
    pub integration: String,
    verifier: Option<Ciphertext>,
    pub expires_at: Timestamp,
    /// The binding of the browser that started this step: only it may finish it.
    #[serde(default)]
    pub browser_binding: String,
}

/// What a callback's `state` found.
pub enum Taken {
    /// No open transaction (unknown, used or expired).
    Missing,
    /// It exists, but another browser started it; it is left as it was.
    OtherBrowser,
    Taken(OAuthTransaction, Option<SecretString>),
}

fn record_key(state: &str) -> Vec<u8> {
    keys::index("oauth_state").pack(&state)
}

/// Lists a session's open transactions so that purging the session finds them.
fn session_index_key(session_id: &str, state: &str) -> Vec<u8> {
    keys::index("session_states").pack(&(session_id, state))
}

/// The one open step of a session at one provider: names its `state`.
fn step_key(session_id: &str, integration: &str) -> Vec<u8> {
    keys::index("session_step").pack(&(session_id, integration))
}

/// What a new provider step needs.
pub struct NewStep<'a> {
    pub state: &'a SecretString,
    pub session_id: &'a str,
    pub integration: &'a str,
    pub verifier: Option<&'a SecretString>,
    pub expires_at: Timestamp,
    pub browser_binding: &'a str,
}

/// Records a new transaction under `state`, sealing the PKCE verifier. It replaces
/// the session's earlier step at the same provider (a user who pressed the button
/// twice), so a session holds at most one step per provider however often it asks.
pub async fn begin(tx: &Tx, vault: &Vault, step: NewStep<'_>) -> Result<(), RecordError> {
    let step_key = step_key(step.session_id, step.integration);
    if let Some(previous) = tx.get(&step_key).await? {
        let previous = String::from_utf8_lossy(&previous).into_owned();
        tx.clear(&record_key(&previous))?;
        tx.clear(&session_index_key(step.session_id, &previous))?;
    }
    let key = record_key(step.state.expose());
    let verifier = step.verifier.map(|v| vault.encrypt(&key, v.expose().as_bytes())).transpose()?;
    let record = OAuthTransaction {
        session_id: step.session_id.to_owned(),
        integration: step.integration.to_owned(),
        verifier,
        expires_at: step.expires_at,
        browser_binding: step.browser_binding.to_owned(),
    };
    put_json(tx, &key, &record, WHAT)?;
    tx.set(&session_index_key(step.session_id, step.state.expose()), b"")?;
    tx.set(&step_key, step.state.expose().as_bytes())?;
    Ok(())
}

/// Takes the transaction named by `state` when `browser_binding` started it: it is
/// deleted in the same commit, so a replayed callback finds nothing. Another
/// browser's callback leaves it where it is.
pub async fn take(tx: &Tx, vault: &Vault, state: &str, browser_binding: &str) -> Result<Taken, RecordError> {
    if state.is_empty() || state.len() > 128 {
        return Ok(Taken::Missing);
    }
    let key = record_key(state);
    let Some(record) = get_json::<OAuthTransaction>(tx, &key, WHAT).await? else { return Ok(Taken::Missing) };
    if !bool::from(record.browser_binding.as_bytes().ct_eq(browser_binding.as_bytes())) {
        return Ok(Taken::OtherBrowser);
    }
    tx.clear(&key)?;
    tx.clear(&session_index_key(&record.session_id, state))?;
    tx.clear(&step_key(&record.session_id, &record.integration))?;
    let verifier = match &record.verifier {
        Some(sealed) => {
            let plain = vault.decrypt(&key, sealed).await?;
            Some(SecretString::new(String::from_utf8_lossy(plain.expose()).into_owned()))
        }
        None => None,
    };
    Ok(Taken::Taken(record, verifier))
}

/// Deletes every open transaction of a session (and so its PKCE verifiers).
pub async fn purge_session(tx: &Tx, session_id: &str) -> Result<(), RecordError> {
    let space = keys::index("session_states").subspace(&(session_id,));
    let (begin, end) = space.range();
    for pair in tx.get_range(&begin, &end, Default::default()).await? {
        if let Ok((state,)) = space.unpack::<(String,)>(&pair.key) {
            tx.clear(&record_key(&state))?;
        }
    }
    tx.clear_range(&begin, &end)?;
    let steps = keys::index("session_step").subspace(&(session_id,));
    let (begin, end) = steps.range();
    tx.clear_range(&begin, &end)?;
    Ok(())
}
