//! The versioned keyring: data keys, each wrapped by the master key, stored in the
//! store under `("vault", "keyring")`. New data is sealed with the newest version;
//! every older version still opens what it sealed. Cluster nodes share it through
//! the store, so a rotation on one node reaches the others on their next miss.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{MasterKey, VaultError, cipher};
use crate::store::{Tx, pack};
use crate::util::clock::Timestamp;

pub(crate) type DataKey = Zeroizing<[u8; 32]>;

pub(crate) fn keyring_key() -> Vec<u8> {
    pack(&("vault", "keyring"))
}

/// The stored form: wrapped keys only.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredKeyring {
    pub versions: Vec<StoredKey>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredKey {
    pub version: u32,
    /// The data key sealed by the master key, base64.
    pub wrapped: String,
    pub created_at: Timestamp,
}

/// The unwrapped keys, in memory only.
#[derive(Default)]
pub(crate) struct Keys {
    pub current: u32,
    pub by_version: BTreeMap<u32, DataKey>,
}

fn wrap_aad(version: u32) -> Vec<u8> {
    format!("securix/keyring/v{version}").into_bytes()
}

impl StoredKeyring {
    pub async fn load(tx: &Tx) -> Result<Option<Self>, VaultError> {
        let Some(bytes) = tx.get(&keyring_key()).await? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| VaultError::Corrupt(format!("keyring: {e}")))
    }

    pub fn save(&self, tx: &Tx) -> Result<(), VaultError> {
        let bytes = serde_json::to_vec(self).map_err(|e| VaultError::Corrupt(format!("keyring: {e}")))?;
        tx.set(&keyring_key(), &bytes)?;
        Ok(())
    }

    /// Appends a fresh data key as the next version and returns that version.
    pub fn add_version(&mut self, master: &MasterKey, now: Timestamp) -> Result<u32, VaultError> {
        let version = self.versions.iter().map(|k| k.version).max().unwrap_or(0) + 1;
        let mut key: DataKey = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let wrapped = cipher::seal(master.bytes(), 0, &wrap_aad(version), key.as_ref())?;
        self.versions.push(StoredKey { version, wrapped: STANDARD.encode(wrapped), created_at: now });
        Ok(version)
    }

    pub fn unwrap_all(&self, master: &MasterKey) -> Result<Keys, VaultError> {
        let mut keys = Keys::default();
        for stored in &self.versions {
            let wrapped = STANDARD.decode(&stored.wrapped).map_err(|_| {
                VaultError::Corrupt(format!("keyring version {} is not base64", stored.version))
            })?;
            let plain = cipher::open(master.bytes(), &wrap_aad(stored.version), &wrapped)
                .map_err(|_| VaultError::WrongMasterKey)?;
            let bytes = <[u8; 32]>::try_from(plain.expose()).map_err(|_| {
                VaultError::Corrupt(format!("keyring version {} has a bad length", stored.version))
            })?;
            keys.by_version.insert(stored.version, Zeroizing::new(bytes));
            keys.current = keys.current.max(stored.version);
        }
        Ok(keys)
    }
}
