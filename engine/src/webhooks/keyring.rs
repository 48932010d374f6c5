//! The webhook signing keys: ed25519, the secret half sealed by the vault. A new
//! key signs alongside the old ones until they are retired, so receivers can move
//! to the new public key without missing a delivery.

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use super::signing::public_key_text;
use crate::clock::{Rfc3339, Timestamp};
use crate::model::{RecordError, ids, keys};
use crate::store::Tx;
use crate::vault::{Ciphertext, Vault};

const WHAT: &str = "webhook key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Retired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredKey {
    id: String,
    public_key: String,
    secret: Ciphertext,
    created_at: Timestamp,
    status: KeyStatus,
}

/// A key as `/v1/webhooks/keys` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub public_key: String,
    pub created_at: Rfc3339,
    pub status: KeyStatus,
}

fn record_key(id: &str) -> Vec<u8> {
    keys::index("webhook_key").pack(&id)
}

async fn all(tx: &Tx) -> Result<Vec<StoredKey>, RecordError> {
    crate::model::list_json(tx, keys::index("webhook_key").range(), Default::default(), WHAT).await
}

/// Adds a fresh active key.
pub async fn add(tx: &Tx, vault: &Vault, now: Timestamp) -> Result<KeyView, RecordError> {
    let signing = SigningKey::generate(&mut OsRng);
    let id = ids::mint("whk");
    let secret = vault.encrypt(&record_key(&id), signing.as_bytes())?;
    let stored = StoredKey {
        public_key: public_key_text(&signing.verifying_key()),
        secret,
        created_at: now,
        status: KeyStatus::Active,
        id,
    };
    crate::model::put_json(tx, &record_key(&stored.id), &stored, WHAT)?;
    Ok(view(&stored))
}

fn view(key: &StoredKey) -> KeyView {
    KeyView {
        id: key.id.clone(),
        public_key: key.public_key.clone(),
        created_at: Rfc3339(key.created_at),
        status: key.status,
    }
}

/// Creates the first key if there is none.
pub async fn ensure(tx: &Tx, vault: &Vault, now: Timestamp) -> Result<(), RecordError> {
    if all(tx).await?.iter().all(|k| k.status != KeyStatus::Active) {
        add(tx, vault, now).await?;
    }
    Ok(())
}

pub async fn list(tx: &Tx) -> Result<Vec<KeyView>, RecordError> {
    Ok(all(tx).await?.iter().map(view).collect())
}

/// Stops signing with a key (after receivers moved to the newer one).
pub async fn retire(tx: &Tx, id: &str) -> Result<(), RecordError> {
    let mut keys = all(tx).await?;
    let key = keys.iter_mut().find(|k| k.id == id).ok_or(RecordError::NotFound(WHAT))?;
    key.status = KeyStatus::Retired;
    crate::model::put_json(tx, &record_key(id), key, WHAT)
}

/// Every active key, unsealed, to sign with.
pub async fn signing_keys(tx: &Tx, vault: &Vault) -> Result<Vec<SigningKey>, RecordError> {
    let mut signing = Vec::new();
    for key in all(tx).await?.into_iter().filter(|k| k.status == KeyStatus::Active) {
        let plain = vault.decrypt(&record_key(&key.id), &key.secret).await?;
        let bytes: [u8; 32] = plain
            .expose()
            .try_into()
            .map_err(|_| RecordError::Corrupt { what: WHAT, detail: "bad key length".into() })?;
        signing.push(SigningKey::from_bytes(&bytes));
    }
    Ok(signing)
}
