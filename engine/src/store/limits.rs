//! FoundationDB's limits, enforced on every backend so that what works embedded
//! works on the cluster.

use std::time::Duration;

use super::StoreError;

pub const MAX_KEY_BYTES: usize = 10_000;
pub const MAX_VALUE_BYTES: usize = 100_000;
pub const MAX_TRANSACTION_BYTES: usize = 10_000_000;
pub const MAX_TRANSACTION_AGE: Duration = Duration::from_secs(5);

pub(crate) fn check_key(key: &[u8]) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::KeyTooLarge { size: key.len(), limit: MAX_KEY_BYTES });
    }
    Ok(())
}

pub(crate) fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::ValueTooLarge { size: value.len(), limit: MAX_VALUE_BYTES });
    }
    Ok(())
}

pub(crate) fn check_range(begin: &[u8], end: &[u8]) -> Result<(), StoreError> {
    check_key(begin)?;
    // An end key may be one byte past the longest key (a prefix's strinc).
    if end.len() > MAX_KEY_BYTES + 1 {
        return Err(StoreError::KeyTooLarge { size: end.len(), limit: MAX_KEY_BYTES });
    }
    if begin > end {
        return Err(StoreError::Invalid("range begin is after its end".into()));
    }
    Ok(())
}

pub(crate) fn too_old() -> StoreError {
    StoreError::TransactionTooOld { limit_ms: MAX_TRANSACTION_AGE.as_millis() as u64 }
}
