//! The vault: provider tokens and OAuth client secrets are sealed here before they
//! reach the store, with the record's store key as associated data, so a
//! ciphertext copied to another record does not open.
//!
//! An engine given no master key holds a *sealed* vault, which refuses all token
//! work with `VaultError::Sealed` instead of ever falling back to plaintext.

mod cipher;
mod keyring;
mod master_key;

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

pub use master_key::{MASTER_KEY_BYTES, MasterKey};

use crate::store::{Store, StoreError, TxError};
use crate::util::clock::{Clock, SystemClock};
use crate::util::secret::SecretBytes;
use keyring::{Keys, StoredKeyring};

#[derive(Debug, Error)]
pub enum VaultError {
    #[error(
        "VA0001 the vault is sealed: no master key was given (set SECURIX_MASTER_KEY or provide a key file)"
    )]
    Sealed,
    #[error("VA0002 the master key is unusable: {0}")]
    BadMasterKey(String),
    #[error("VA0003 the master key does not open this store's keyring (wrong SECURIX_MASTER_KEY?)")]
    WrongMasterKey,
    #[error("VA0004 key file: {0}")]
    KeyFile(String),
    #[error("VA0005 ciphertext sealed with key version {0}, which the keyring does not hold")]
    UnknownKeyVersion(u32),
    #[error("VA0006 {0}")]
    Crypto(String),
    #[error("VA0007 vault data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TxError for VaultError {
    fn as_store_error(&self) -> Option<&StoreError> {
        match self {
            VaultError::Store(error) => Some(error),
            _ => None,
        }
    }
}

/// Sealed bytes as they are stored: the envelope of `cipher.rs`. Serialized as base64.
#[derive(Clone, PartialEq, Eq)]
pub struct Ciphertext(Vec<u8>);

impl Ciphertext {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ciphertext({} bytes)", self.0.len())
    }
}

impl Serialize for Ciphertext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Ciphertext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map(Ciphertext).map_err(serde::de::Error::custom)
    }
}

/// See the module documentation. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    unsealed: Option<Arc<Unsealed>>,
}

struct Unsealed {
    master: MasterKey,
    store: Store,
    clock: Arc<dyn Clock>,
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("sealed", &self.is_sealed()).finish()
    }
}

impl Vault {
    /// A vault without a master key: every operation answers `VaultError::Sealed`.
    pub fn sealed() -> Self {
        Vault { unsealed: None }
    }

    /// Opens the store's keyring with `master`, creating it on first use.
    pub async fn open(store: Store, master: MasterKey) -> Result<Self, VaultError> {
        Self::open_with_clock(store, master, Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(
        store: Store,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, VaultError> {
        let now = clock.now();
        let stored = store
            .run(|tx| {
                let master = master.clone();
                async move {
                    if let Some(existing) = StoredKeyring::load(&tx).await? {
                        return Ok(existing);
                    }
                    let mut fresh = StoredKeyring::default();
                    fresh.add_version(&master, now)?;
                    fresh.save(&tx)?;
                    Ok::<_, VaultError>(fresh)
                }
            })
            .await?;
        let keys = stored.unwrap_all(&master)?;
        Ok(Vault { unsealed: Some(Arc::new(Unsealed { master, store, clock, keys: RwLock::new(keys) })) })
    }

    pub fn is_sealed(&self) -> bool {
        self.unsealed.is_none()
    }

    fn unsealed(&self) -> Result<&Unsealed, VaultError> {
        self.unsealed.as_deref().ok_or(VaultError::Sealed)
    }

    fn read_keys(&self) -> Result<std::sync::RwLockReadGuard<'_, Keys>, VaultError> {
        self.unsealed()?.keys.read().map_err(|_| VaultError::Corrupt("keyring lock poisoned".into()))
    }

    /// Seals `plaintext` for the record stored under `aad` with the newest key.
    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<Ciphertext, VaultError> {
        let keys = self.read_keys()?;
        let key = keys.by_version.get(&keys.current).ok_or(VaultError::UnknownKeyVersion(keys.current))?;
        cipher::seal(key, keys.current, aad, plaintext).map(Ciphertext)
    }

    /// Opens a ciphertext of the record stored under `aad`. A key version this vault
    /// has not seen (a rotation on another node) reloads the keyring once.
    pub async fn decrypt(&self, aad: &[u8], ciphertext: &Ciphertext) -> Result<SecretBytes, VaultError> {
        let version = cipher::key_version(&ciphertext.0)?;
        if !self.read_keys()?.by_version.contains_key(&version) {
            self.reload().await?;
        }
        let keys = self.read_keys()?;
        let key = keys.by_version.get(&version).ok_or(VaultError::UnknownKeyVersion(version))?;
        cipher::open(key, aad, &ciphertext.0)
    }

    /// Adds a new key version and seals everything new with it; old versions keep
    /// opening what they sealed. Online: readers and writers never stop.
    pub async fn rotate(&self) -> Result<u32, VaultError> {
        let unsealed = self.unsealed()?;
        let now = unsealed.clock.now();
        let master = &unsealed.master;
        let version = unsealed
            .store
            .run(|tx| async move {
                let mut stored = StoredKeyring::load(&tx).await?.unwrap_or_default();
                let version = stored.add_version(master, now)?;
                stored.save(&tx)?;
                Ok::<_, VaultError>(version)
            })
            .await?;
        self.reload().await?;
        Ok(version)
    }

    /// The key version new ciphertexts are sealed with.
    pub fn current_version(&self) -> Result<u32, VaultError> {
        Ok(self.read_keys()?.current)
    }

    async fn reload(&self) -> Result<(), VaultError> {
        let unsealed = self.unsealed()?;
        let stored = unsealed
            .store
            .run(|tx| async move { Ok::<_, VaultError>(StoredKeyring::load(&tx).await?.unwrap_or_default()) })
            .await?;
        let keys = stored.unwrap_all(&unsealed.master)?;
        *unsealed.keys.write().map_err(|_| VaultError::Corrupt("keyring lock poisoned".into()))? = keys;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn vault() -> Vault {
        Vault::open(Store::memory(), MasterKey::generate()).await.unwrap()
    }

    #[tokio::test]
    async fn round_trip_bound_to_its_record() {
        let vault = vault().await;
        let sealed = vault.encrypt(b"record-a", b"refresh-token-123").unwrap();
        assert_eq!(vault.decrypt(b"record-a", &sealed).await.unwrap().expose(), b"refresh-token-123");
        // Copied to another record, it does not open.
        assert!(matches!(vault.decrypt(b"record-b", &sealed).await, Err(VaultError::Crypto(_))));
        // Nor does a tampered copy.
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.0.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(vault.decrypt(b"record-a", &tampered).await, Err(VaultError::Crypto(_))));
    }

    #[tokio::test]
    async fn data_sealed_before_a_rotation_opens_after_it() {
        let store = Store::memory();
        let master = MasterKey::generate();
        let vault = Vault::open(store.clone(), master.clone()).await.unwrap();
        let before = vault.encrypt(b"r", b"old secret").unwrap();
        assert_eq!(vault.rotate().await.unwrap(), 2);
        let after = vault.encrypt(b"r", b"new secret").unwrap();
        assert_eq!(cipher::key_version(&after.0).unwrap(), 2);
        assert_eq!(vault.decrypt(b"r", &before).await.unwrap().expose(), b"old secret");
        // Another node that opened the vault before the rotation learns the new key on a miss.
        let other_node = Vault::open(store.clone(), master.clone()).await.unwrap();
        let newest = vault.rotate().await.unwrap();
        let sealed_by_first = vault.encrypt(b"r", b"newest").unwrap();
        assert_eq!(other_node.current_version().unwrap(), newest - 1);
        assert_eq!(other_node.decrypt(b"r", &sealed_by_first).await.unwrap().expose(), b"newest");
    }

    #[tokio::test]
    async fn sealed_vault_refuses_token_work() {
        let vault = Vault::sealed();
        assert!(matches!(vault.encrypt(b"r", b"x"), Err(VaultError::Sealed)));
        let sealed = vault_ciphertext().await;
        let error = vault.decrypt(b"r", &sealed).await.unwrap_err();
        assert!(matches!(error, VaultError::Sealed), "{error}");
        assert!(matches!(vault.rotate().await, Err(VaultError::Sealed)));
    }

    async fn vault_ciphertext() -> Ciphertext {
        vault().await.encrypt(b"r", b"x").unwrap()
    }

    #[tokio::test]
    async fn a_wrong_master_key_is_a_clear_error() {
        let store = Store::memory();
        Vault::open(store.clone(), MasterKey::generate()).await.unwrap();
        let error = Vault::open(store, MasterKey::generate()).await.unwrap_err();
        assert!(matches!(error, VaultError::WrongMasterKey), "{error}");
    }
}
