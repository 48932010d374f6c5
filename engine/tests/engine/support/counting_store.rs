//! A store that counts reads of the access epochs: the memory backend underneath,
//! every snapshot's `get` of a key naming `access_epoch` counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use securix_engine::store::{Backend, Commit, KeyRange, KeyValue, MemoryBackend, Snapshot, StoreError};

#[derive(Default)]
pub struct EpochReads(AtomicUsize);

impl EpochReads {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct CountingBackend {
    inner: MemoryBackend,
    epoch_reads: Arc<EpochReads>,
}

impl CountingBackend {
    pub fn new() -> (Self, Arc<EpochReads>) {
        let epoch_reads = Arc::new(EpochReads::default());
        (CountingBackend { inner: MemoryBackend::new(), epoch_reads: epoch_reads.clone() }, epoch_reads)
    }
}

#[async_trait]
impl Backend for CountingBackend {
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        let inner = self.inner.begin().await?;
        Ok(Box::new(CountingSnapshot { inner, epoch_reads: self.epoch_reads.clone() }))
    }

    fn name(&self) -> &'static str {
        "counting memory"
    }

    fn version(&self) -> Option<u64> {
        self.inner.version()
    }
}

struct CountingSnapshot {
    inner: Box<dyn Snapshot>,
    epoch_reads: Arc<EpochReads>,
}

#[async_trait]
impl Snapshot for CountingSnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if key.windows(b"access_epoch".len()).any(|part| part == b"access_epoch") {
            self.epoch_reads.0.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(key).await
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.inner.get_range(range, limit, reverse).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.inner.commit(commit).await
    }

    fn version(&self) -> Option<u64> {
        self.inner.version()
    }
}
