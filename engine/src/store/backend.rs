//! The small contract a storage backend fulfils. The `Tx` layer above it adds
//! read-your-writes, limits and conflict ranges, so a backend only reads a
//! consistent snapshot and applies a commit atomically.

use async_trait::async_trait;

use super::{KeyValue, StoreError};

/// A half-open key range `[begin, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub begin: Vec<u8>,
    pub end: Vec<u8>,
}

impl KeyRange {
    /// The range holding exactly `key`.
    pub fn single(key: &[u8]) -> Self {
        let mut end = key.to_vec();
        end.push(0);
        KeyRange { begin: key.to_vec(), end }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.begin.as_slice() <= key && key < self.end.as_slice()
    }

    pub fn overlaps(&self, other: &KeyRange) -> bool {
        self.begin < other.end && other.begin < self.end
    }
}

/// One write, in the order the commit applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Clear {
        key: Vec<u8>,
    },
    ClearRange(KeyRange),
    /// Little-endian addition of an 8-byte integer, without reading the value
    /// (so it adds no read conflict).
    Add {
        key: Vec<u8>,
        delta: i64,
    },
}

impl Mutation {
    /// The keys this mutation writes, for conflict detection.
    pub fn written_range(&self) -> KeyRange {
        match self {
            Mutation::Set { key, .. } | Mutation::Clear { key } | Mutation::Add { key, .. } => {
                KeyRange::single(key)
            }
            Mutation::ClearRange(range) => range.clone(),
        }
    }
}

/// What a transaction asks its backend to commit.
#[derive(Debug, Default)]
pub struct Commit {
    /// Ranges the transaction read; a commit since its read version that wrote into
    /// any of them is a conflict.
    pub reads: Vec<KeyRange>,
    /// Range clears first, then point writes (see `WriteBuffer::into_mutations`).
    pub mutations: Vec<Mutation>,
}

/// Opens transactions.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Starts a transaction at the newest committed version.
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError>;
    /// A short name for logs and errors ("memory", "redb", …).
    fn name(&self) -> &'static str;
    /// Why the backend refuses every commit for good, if it does (the redb
    /// backend after its commit log failed): the node is not ready.
    fn failure(&self) -> Option<StoreError> {
        None
    }
    /// The version a transaction begun now would read at, where it names what the
    /// store holds (see `Snapshot::version`).
    fn version(&self) -> Option<u64> {
        None
    }
}

/// One transaction's view of the store: reads at one version, then one commit.
#[async_trait]
pub trait Snapshot: Send + Sync {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` pairs of `[begin, end)` in key order, or in reverse order from `end`.
    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError>;
    /// Applies the commit atomically, or fails with `Conflict` when a transaction
    /// committed since this snapshot wrote into one of `commit.reads`.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;
    /// For caches of what the store holds: two snapshots of one store with the same
    /// version read the same data. `None` where the version cannot say that (a
    /// store other processes write too).
    fn version(&self) -> Option<u64> {
        None
    }
}

/// Little-endian addition as FoundationDB's ADD does it for an 8-byte operand:
/// a missing or short value counts as zero-extended, a longer one is truncated.
pub fn add_le(existing: Option<&[u8]>, delta: i64) -> Vec<u8> {
    read_le(existing).wrapping_add(delta).to_le_bytes().to_vec()
}

/// The counter a value holds, read the way `add_le` reads it.
pub fn read_le(value: Option<&[u8]>) -> i64 {
    let mut current = [0u8; 8];
    if let Some(bytes) = value {
        let n = bytes.len().min(8);
        current[..n].copy_from_slice(&bytes[..n]);
    }
    i64::from_le_bytes(current)
}
