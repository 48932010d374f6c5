//! One authorization at one provider for one session: the `state` sent to the
//! provider names it, it holds the sealed PKCE verifier, and it is used once.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::model::{RecordError, get_json, keys, put_json};
use crate::secret::SecretString;
use crate::store::Tx;
use crate::vault::{Ciphertext, Vault};

const WHAT: &str = "authorization";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthTransaction {
    pub session_id: String,
    pub integration: String,
    verifier: Option<Ciphertext>,
    pub expires_at: Timestamp,
}

fn record_key(state: &str) -> Vec<u8> {
    keys::index("oauth_state").pack(&state)
}

/// Lists a session's open transactions so that purging the session finds them.
fn session_index_key(session_id: &str, state: &str) -> Vec<u8> {
    keys::index("session_states").pack(&(session_id, state))
}

/// Records a new transaction under `state`, sealing the PKCE verifier.
pub fn begin(
    tx: &Tx,
    vault: &Vault,
    state: &SecretString,
    session_id: &str,
    integration: &str,
    verifier: Option<&SecretString>,
    expires_at: Timestamp,
) -> Result<(), RecordError> {
    let key = record_key(state.expose());
    let verifier = verifier.map(|v| vault.encrypt(&key, v.expose().as_bytes())).transpose()?;
    let record = OAuthTransaction {
        session_id: session_id.to_owned(),
        integration: integration.to_owned(),
        verifier,
        expires_at,
    };
    put_json(tx, &key, &record, WHAT)?;
    tx.set(&session_index_key(session_id, state.expose()), b"")?;
    Ok(())
}

/// Takes the transaction named by `state`: it is deleted in the same commit, so
/// a replayed callback finds nothing.
pub async fn take(
    tx: &Tx,
    vault: &Vault,
    state: &str,
) -> Result<Option<(OAuthTransaction, Option<SecretString>)>, RecordError> {
    if state.is_empty() || state.len() > 128 {
        return Ok(None);
    }
    let key = record_key(state);
    let Some(record) = get_json::<OAuthTransaction>(tx, &key, WHAT).await? else { return Ok(None) };
    tx.clear(&key)?;
    tx.clear(&session_index_key(&record.session_id, state))?;
    let verifier = match &record.verifier {
        Some(sealed) => {
            let plain = vault.decrypt(&key, sealed).await?;
            Some(SecretString::new(String::from_utf8_lossy(plain.expose()).into_owned()))
        }
        None => None,
    };
    Ok(Some((record, verifier)))
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
    Ok(())
}
