//! `Tx`: one attempt of a transaction. Reads see the transaction's own writes;
//! writes are buffered and checked against the limits as they are made.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::backend::{Commit, KeyRange, Snapshot, add_le};
use super::limits::{self, MAX_TRANSACTION_AGE, MAX_TRANSACTION_BYTES};
use super::write_buffer::{Overlay, WriteBuffer};
use super::{KeyValue, StoreError};

/// How a range read is bounded and ordered.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeOptions {
    /// At most this many pairs; `None` reads the whole range.
    pub limit: Option<usize>,
    /// From the end of the range backwards.
    pub reverse: bool,
}

impl RangeOptions {
    pub fn limit(limit: usize) -> Self {
        RangeOptions { limit: Some(limit), reverse: false }
    }

    pub fn reversed(self) -> Self {
        RangeOptions { reverse: true, ..self }
    }
}

/// A handle on one transaction attempt. Cheap to clone; all clones are the same
/// transaction. Only `Store::run` (or `commit`) ends it.
#[derive(Clone)]
pub struct Tx {
    inner: Arc<TxInner>,
}

struct TxInner {
    snapshot: Box<dyn Snapshot>,
    started: Instant,
    state: Mutex<TxState>,
}

#[derive(Default)]
struct TxState {
    writes: WriteBuffer,
    reads: Vec<KeyRange>,
    /// Bytes of mutations and conflict ranges, as FoundationDB counts them.
    bytes: usize,
    committed: bool,
}

impl Tx {
    pub(crate) fn new(snapshot: Box<dyn Snapshot>) -> Self {
        Tx {
            inner: Arc::new(TxInner {
                snapshot,
                started: Instant::now(),
                state: Mutex::new(TxState::default()),
            }),
        }
    }

    /// The snapshot's version (`Snapshot::version`): what it reads, its own writes aside.
    pub fn version(&self) -> Option<u64> {
        self.inner.snapshot.version()
    }

    fn state(&self) -> Result<MutexGuard<'_, TxState>, StoreError> {
        let state =
            self.inner.state.lock().map_err(|_| StoreError::Invalid("transaction state poisoned".into()))?;
        if state.committed {
            return Err(StoreError::Invalid("transaction already committed".into()));
        }
        if self.inner.started.elapsed() > MAX_TRANSACTION_AGE {
            return Err(limits::too_old());
        }
        Ok(state)
    }

    /// Fails once the transaction is committed or past its age limit.
    fn ensure_live(&self) -> Result<(), StoreError> {
        self.state().map(drop)
    }

    fn account(state: &mut TxState, bytes: usize) -> Result<(), StoreError> {
        state.bytes += bytes;
        if state.bytes > MAX_TRANSACTION_BYTES {
            return Err(StoreError::TransactionTooLarge { size: state.bytes, limit: MAX_TRANSACTION_BYTES });
        }
        Ok(())
    }

    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        limits::check_key(key)?;
        let overlay = self.state()?.writes.overlay(key);
        let stored = match overlay {
            Overlay::Known(value) => return Ok(value),
            Overlay::AddToStored(_) | Overlay::Unknown => self.inner.snapshot.get(key).await?,
        };
        let mut state = self.state()?;
        let read = KeyRange::single(key);
        Self::account(&mut state, read.begin.len() + read.end.len())?;
        state.reads.push(read);
        // The buffer may have changed while we awaited; apply what it holds now.
        Ok(match state.writes.overlay(key) {
            Overlay::Known(value) => value,
            Overlay::AddToStored(delta) => Some(add_le(stored.as_deref(), delta)),
            Overlay::Unknown => stored,
        })
    }

    /// The pairs of `[begin, end)` in key order (or reversed), at most `limit` of them.
    pub async fn get_range(
        &self,
        begin: &[u8],
        end: &[u8],
        options: RangeOptions,
    ) -> Result<Vec<KeyValue>, StoreError> {
        limits::check_range(begin, end)?;
        let limit = options.limit.unwrap_or(usize::MAX);
        let reverse = options.reverse;
        let whole = KeyRange { begin: begin.to_vec(), end: end.to_vec() };
        let mut cursor = whole.clone();
        let mut out: Vec<KeyValue> = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        loop {
            self.ensure_live()?;
            let page_limit = limit.saturating_sub(out.len()).clamp(1, 10_000);
            let stored = self.inner.snapshot.get_range(&cursor, page_limit, reverse).await?;
            let exhausted = stored.len() < page_limit;
            let last_stored = stored.last().map(|pair| pair.key.clone());
            let scan_end = if exhausted { None } else { last_stored.as_deref() };
            let merged = self.state()?.writes.merge(&cursor, stored, scan_end, reverse);
            out.extend(merged);
            if out.len() >= limit || exhausted {
                break;
            }
            let Some(last) = last_stored else { break };
            if reverse {
                cursor.end = last;
            } else {
                cursor.begin = last;
                cursor.begin.push(0);
            }
        }
        out.truncate(limit);
        let read = match (out.len() >= limit, out.last()) {
            (true, Some(last)) if reverse => KeyRange { begin: last.key.clone(), end: whole.end },
            (true, Some(last)) => KeyRange { begin: whole.begin, end: KeyRange::single(&last.key).end },
            _ => whole,
        };
        let mut state = self.state()?;
        Self::account(&mut state, read.begin.len() + read.end.len())?;
        state.reads.push(read);
        Ok(out)
    }

    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        limits::check_key(key)?;
        limits::check_value(value)?;
        let mut state = self.state()?;
        Self::account(&mut state, key.len() + value.len())?;
        state.writes.set(key, value);
        Ok(())
    }

    pub fn clear(&self, key: &[u8]) -> Result<(), StoreError> {
        limits::check_key(key)?;
        let mut state = self.state()?;
        Self::account(&mut state, key.len())?;
        state.writes.clear(key);
        Ok(())
    }

    pub fn clear_range(&self, begin: &[u8], end: &[u8]) -> Result<(), StoreError> {
        limits::check_range(begin, end)?;
        let mut state = self.state()?;
        Self::account(&mut state, begin.len() + end.len())?;
        state.writes.clear_range(KeyRange { begin: begin.to_vec(), end: end.to_vec() });
        Ok(())
    }

    /// Adds `delta` to the little-endian 8-byte integer at `key` (missing = 0)
    /// without a read conflict, so concurrent counters never collide.
    pub fn atomic_add(&self, key: &[u8], delta: i64) -> Result<(), StoreError> {
        limits::check_key(key)?;
        let mut state = self.state()?;
        Self::account(&mut state, key.len() + 8)?;
        state.writes.add(key, delta);
        Ok(())
    }

    /// Commits this attempt. `Store::run` calls it; call it yourself only on a
    /// transaction from `Store::begin`. After an error nothing of it is visible,
    /// except that a `Backend` error may leave the outcome unknown (as on FoundationDB).
    pub async fn commit(&self) -> Result<(), StoreError> {
        let commit = {
            let mut state = self.state()?;
            state.committed = true;
            let writes = std::mem::take(&mut state.writes);
            if writes.is_empty() {
                return Ok(());
            }
            Commit { reads: std::mem::take(&mut state.reads), mutations: writes.into_mutations() }
        };
        self.inner.snapshot.commit(commit).await
    }
}
