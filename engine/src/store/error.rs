//! The store's one error type. Codes (`ST00xx`) are stable: logs and problem
//! documents quote them.

use thiserror::Error;

/// Everything a store operation can fail with.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Another transaction wrote something this one read. `Store::run` retries it.
    #[error("ST0001 transaction conflict: another commit changed what this transaction read")]
    Conflict,
    /// The transaction outlived the store's 5 s limit. `Store::run` retries it.
    #[error("ST0002 transaction too old: it ran longer than {limit_ms} ms")]
    TransactionTooOld { limit_ms: u64 },
    #[error("ST0003 key too large: {size} bytes, the limit is {limit}")]
    KeyTooLarge { size: usize, limit: usize },
    #[error("ST0004 value too large: {size} bytes, the limit is {limit}")]
    ValueTooLarge { size: usize, limit: usize },
    #[error("ST0005 transaction too large: {size} bytes, the limit is {limit}")]
    TransactionTooLarge { size: usize, limit: usize },
    #[error("ST0006 gave up after {attempts} attempts: {last}")]
    RetryLimitReached { attempts: u32, last: Box<StoreError> },
    #[error("ST0007 the transaction loop timed out after {elapsed_ms} ms")]
    TimedOut { elapsed_ms: u64 },
    /// The backend itself failed (I/O, network, corrupt file). Not retried.
    #[error("ST0008 storage backend error: {0}")]
    Backend(String),
    /// A range whose begin is after its end, and similar misuse.
    #[error("ST0009 invalid request: {0}")]
    Invalid(String),
    /// A transient backend condition that a retry may fix (a dropped connection, a
    /// serialization failure reported by the backend itself).
    #[error("ST0010 transient storage error: {0}")]
    Transient(String),
    /// A durable write failed earlier: nothing is committed until a restart, so
    /// no commit is acknowledged that a crash could lose.
    #[error("ST0011 commits are refused until SecuriX restarts: {cause}")]
    Halted { cause: String },
}

impl StoreError {
    /// Whether `Store::run` should run the closure again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict | StoreError::TransactionTooOld { .. } | StoreError::Transient(_))
    }

    pub(crate) fn backend(err: impl std::fmt::Display) -> Self {
        StoreError::Backend(err.to_string())
    }
}

/// Errors that can travel out of a `Store::run` closure. The loop asks them whether
/// they carry a retryable store error.
pub trait TxError: From<StoreError> {
    fn as_store_error(&self) -> Option<&StoreError>;
}

impl TxError for StoreError {
    fn as_store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}
