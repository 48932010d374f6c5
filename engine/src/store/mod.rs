//! The ordered, transactional key-value store every piece of SecuriX state lives in.
//!
//! Shaped like FoundationDB: serializable transactions over ordered byte keys, run
//! through a bounded retry loop. The closure may run more than once, so it must be
//! idempotent: compute, read and write through `tx`, and keep side effects (network
//! calls, channel sends) outside it.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use securix_engine::store::{Store, StoreError};
//! let store = Store::memory();
//! store.run(|tx| async move {
//!     let seen = tx.get(b"visits").await?;
//!     tx.set(b"visits", if seen.is_some() { b"many" } else { b"one" })?;
//!     Ok::<_, StoreError>(())
//! }).await.unwrap();
//! # });
//! ```

mod backend;
mod commit_log;
mod error;
#[cfg(feature = "fdb")]
mod fdb;
mod keys;
pub mod limits;
mod memory;
mod open_reads;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_schema;
mod redb;
mod redb_flusher;
mod redb_log_writer;
mod redb_sequencer;
mod resolver;
mod tx;
mod unflushed;
mod write_buffer;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

pub use backend::{Backend, Commit, KeyRange, Mutation, Snapshot, read_le};
pub use error::{StoreError, TxError};
#[cfg(feature = "fdb")]
pub use fdb::FdbBackend;
pub use keys::{Subspace, TupleError, pack, unpack};
pub use memory::MemoryBackend;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresBackend, sql as postgres_sql};
pub use redb::{RedbBackend, RedbOptions};
pub use tx::{RangeOptions, Tx};

/// One key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Bounds on `Store::run`'s retry loop.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub timeout: Duration,
    /// First backoff after a conflict; doubles up to `max_backoff`, with jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 100,
            timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(200),
        }
    }
}

/// A handle on a store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend.name()).finish()
    }
}

impl Store {
    pub fn new(backend: impl Backend) -> Self {
        Store { backend: Arc::new(backend), policy: RetryPolicy::default() }
    }

    /// A fresh, empty in-memory store (tests, examples).
    pub fn memory() -> Self {
        Store::new(MemoryBackend::new())
    }

    /// Opens (or creates) the embedded redb store at `path`.
    pub fn open_redb(path: &std::path::Path, options: RedbOptions) -> Result<Self, StoreError> {
        Ok(Store::new(RedbBackend::open(path, options)?))
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Why the store refuses every commit for good, if it does (see `Backend::failure`).
    pub fn failure(&self) -> Option<StoreError> {
        self.backend.failure()
    }

    /// What a transaction begun now would read, as a number: while it stays the same,
    /// so does everything the store holds (`None` where the backend cannot tell).
    pub fn version(&self) -> Option<u64> {
        self.backend.version()
    }

    /// Starts one transaction attempt without a retry loop. Prefer `run`.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx::new(self.backend.begin().await?))
    }

    /// Runs `body` in a transaction and commits it, retrying on conflicts within the
    /// retry policy. `body` may run several times and must be idempotent.
    pub async fn run<T, E, F, Fut>(&self, mut body: F) -> Result<T, E>
    where
        F: FnMut(Tx) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: TxError,
    {
        let started = Instant::now();
        let mut backoff = self.policy.initial_backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = self.policy.timeout.saturating_sub(started.elapsed());
            let span =
                tracing::info_span!("store.transaction", backend = self.backend_name(), attempt = attempts);
            let error = match tokio::time::timeout(remaining, self.attempt(&mut body).instrument(span)).await
            {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => {
                    let elapsed_ms = started.elapsed().as_millis() as u64;
                    return Err(StoreError::TimedOut { elapsed_ms }.into());
                }
            };
            let retryable = error.as_store_error().is_some_and(StoreError::is_retryable);
            if !retryable {
                return Err(error);
            }
            if attempts >= self.policy.max_attempts {
                let last = error.as_store_error().cloned().unwrap_or(StoreError::Conflict);
                return Err(StoreError::RetryLimitReached { attempts, last: Box::new(last) }.into());
            }
            if started.elapsed() >= self.policy.timeout {
                let elapsed_ms = started.elapsed().as_millis() as u64;
                return Err(StoreError::TimedOut { elapsed_ms }.into());
            }
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
    }

    async fn attempt<T, E, F, Fut>(&self, body: &mut F) -> Result<T, E>
    where
        F: FnMut(Tx) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: TxError,
    {
        let tx = self.begin().await?;
        let value = body(tx.clone()).await?;
        tx.commit().await?;
        Ok(value)
    }
}

/// A random duration in `[d/2, d]`, so that colliding transactions spread out.
fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let nanos = d.as_nanos() as u64;
    Duration::from_nanos(rand::thread_rng().gen_range(nanos / 2..=nanos.max(1)))
}
