//! The FoundationDB backend (feature `fdb`), the production cluster store.
//!
//! FoundationDB does the real work: its transactions are already serializable, read
//! their own writes and detect conflicts. This file maps the `Snapshot` contract onto
//! one `foundationdb::Transaction` and FoundationDB's errors onto `StoreError`.
//! The client network is booted once per process and never stopped (FoundationDB
//! cannot restart it).
#![allow(unsafe_code)]

use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use foundationdb::api::{FdbApiBuilder, NetworkAutoStop};
use foundationdb::options::{MutationType, StreamingMode, TransactionOption};
use foundationdb::{Database, FdbError, RangeOption, Transaction};

use super::backend::{Backend, Commit, KeyRange, Mutation, Snapshot};
use super::limits::MAX_TRANSACTION_AGE;
use super::{KeyValue, StoreError};

/// Attempts FoundationDB itself makes inside one of our attempts (we retry outside too).
const FDB_RETRY_LIMIT: i32 = 5;

static NETWORK: OnceLock<Result<NetworkAutoStop, String>> = OnceLock::new();

/// Starts FoundationDB's client network thread, once per process.
fn boot() -> Result<(), StoreError> {
    let network = NETWORK.get_or_init(|| {
        let builder = FdbApiBuilder::default().build().map_err(|e| e.to_string())?;
        // SAFETY: called once per process (guarded by the OnceLock), and the returned
        // guard is kept alive for the life of the process.
        let stop = unsafe { builder.boot() }.map_err(|e| e.to_string())?;
        Ok(stop)
    });
    match network {
        Ok(_) => Ok(()),
        Err(message) => Err(StoreError::Backend(format!("FoundationDB client failed to start: {message}"))),
    }
}

fn fdb_error(error: FdbError) -> StoreError {
    match error.code() {
        // not_committed: a conflict with another transaction.
        1020 => StoreError::Conflict,
        // transaction_too_old / past_version.
        1007 => StoreError::TransactionTooOld { limit_ms: MAX_TRANSACTION_AGE.as_millis() as u64 },
        // transaction_timed_out.
        1031 => StoreError::TimedOut { elapsed_ms: MAX_TRANSACTION_AGE.as_millis() as u64 },
        _ if error.is_retryable() && !error.is_maybe_committed() => StoreError::Transient(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
}

/// See the module documentation.
pub struct FdbBackend {
    db: Database,
}

impl FdbBackend {
    /// Connects with the cluster file at `path`, or the default one when `None`.
    pub fn open(cluster_file: Option<&str>) -> Result<Self, StoreError> {
        boot()?;
        let db = Database::new(cluster_file).map_err(fdb_error)?;
        Ok(FdbBackend { db })
    }
}

#[async_trait]
impl Backend for FdbBackend {
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        let trx = self.db.create_trx().map_err(fdb_error)?;
        let timeout_ms = MAX_TRANSACTION_AGE.as_millis() as i32;
        trx.set_option(TransactionOption::Timeout(timeout_ms)).map_err(fdb_error)?;
        trx.set_option(TransactionOption::RetryLimit(FDB_RETRY_LIMIT)).map_err(fdb_error)?;
        Ok(Box::new(FdbSnapshot { trx: Mutex::new(Some(trx)) }))
    }

    fn name(&self) -> &'static str {
        "fdb"
    }
}

struct FdbSnapshot {
    /// `None` once committed: FoundationDB's commit consumes the transaction.
    trx: Mutex<Option<Transaction>>,
}

impl FdbSnapshot {
    fn with<T>(&self, f: impl FnOnce(&Transaction) -> T) -> Result<T, StoreError> {
        let guard =
            self.trx.lock().map_err(|_| StoreError::Backend("fdb transaction lock poisoned".into()))?;
        let trx =
            guard.as_ref().ok_or_else(|| StoreError::Invalid("transaction already committed".into()))?;
        Ok(f(trx))
    }
}

#[async_trait]
impl Snapshot for FdbSnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let read = self.with(|trx| trx.get(key, false))?;
        Ok(read.await.map_err(fdb_error)?.map(|slice| slice.to_vec()))
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let option = RangeOption {
            limit: Some(limit),
            reverse,
            mode: StreamingMode::WantAll,
            ..RangeOption::from(range.begin.clone()..range.end.clone())
        };
        let read = self.with(|trx| trx.get_range(&option, 1, false))?;
        let values = read.await.map_err(fdb_error)?;
        Ok(values
            .iter()
            .map(|pair| KeyValue { key: pair.key().to_vec(), value: pair.value().to_vec() })
            .collect())
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let trx = {
            let mut guard =
                self.trx.lock().map_err(|_| StoreError::Backend("fdb transaction lock poisoned".into()))?;
            guard.take().ok_or_else(|| StoreError::Invalid("transaction already committed".into()))?
        };
        // FoundationDB tracked the reads itself; only the writes are ours to apply.
        for mutation in &commit.mutations {
            match mutation {
                Mutation::Set { key, value } => trx.set(key, value),
                Mutation::Clear { key } => trx.clear(key),
                Mutation::ClearRange(range) => trx.clear_range(&range.begin, &range.end),
                Mutation::Add { key, delta } => trx.atomic_op(key, &delta.to_le_bytes(), MutationType::Add),
            }
        }
        trx.commit().await.map(|_| ()).map_err(|error| fdb_error(*error))
    }
}
