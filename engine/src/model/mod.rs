//! Typed records over the store, written once for every backend. Each record lives
//! in its own module with its key layout; values are JSON so that fields can be
//! added without migrations. Functions take a `Tx`, so a state change and the
//! events it causes commit together (see `event::append`).

pub mod access_epoch;
pub mod agent;
pub mod agent_token;
pub mod api_key;
pub mod audit;
mod audit_run;
pub mod connection;
pub mod event;
pub mod grant;
pub mod ids;
pub mod integration;
pub mod keys;
pub mod node;
pub mod outbox;
pub mod page;
pub mod project;
pub mod refresh_due;
pub mod refresh_lock;
pub mod secret_token;
pub mod session;
pub mod shard_owner;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::store::{KeyValue, RangeOptions, StoreError, Tx, TxError};
use crate::vault::VaultError;

#[derive(Debug, Error)]
pub enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A stored value that does not parse; names the key's subspace, never its data.
    #[error("RC0001 stored record is unreadable ({what}): {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("RC0002 invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
    #[error("RC0003 {0} not found")]
    NotFound(&'static str),
    #[error("RC0004 {0} already exists")]
    AlreadyExists(&'static str),
}

impl TxError for RecordError {
    fn as_store_error(&self) -> Option<&StoreError> {
        match self {
            RecordError::Store(error) => Some(error),
            RecordError::Vault(VaultError::Store(error)) => Some(error),
            _ => None,
        }
    }
}

pub(crate) async fn get_json<T: DeserializeOwned>(
    tx: &Tx,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, RecordError> {
    match tx.get(key).await? {
        None => Ok(None),
        Some(bytes) => decode(&bytes, what).map(Some),
    }
}

pub(crate) fn put_json<T: Serialize>(
    tx: &Tx,
    key: &[u8],
    value: &T,
    what: &'static str,
) -> Result<(), RecordError> {
    tx.set(key, &encode(value, what)?)?;
    Ok(())
}

pub(crate) fn encode<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, RecordError> {
    serde_json::to_vec(value).map_err(|e| RecordError::Corrupt { what, detail: e.to_string() })
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, RecordError> {
    serde_json::from_slice(bytes).map_err(|e| RecordError::Corrupt { what, detail: e.to_string() })
}

/// Every record of one subspace range, decoded, in key order.
pub(crate) async fn list_json<T: DeserializeOwned>(
    tx: &Tx,
    (begin, end): (Vec<u8>, Vec<u8>),
    options: RangeOptions,
    what: &'static str,
) -> Result<Vec<T>, RecordError> {
    let pairs: Vec<KeyValue> = tx.get_range(&begin, &end, options).await?;
    pairs.iter().map(|pair| decode(&pair.value, what)).collect()
}
