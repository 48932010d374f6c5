//! The embedded default backend: one redb file, ACID and crash-safe.
//!
//! Reads use redb's MVCC read transactions (true snapshots). Commits go to one
//! committer thread, which checks conflicts with the shared resolver and, when
//! grouping is on, folds every commit waiting in its queue into one durable redb
//! write transaction: one fsync for many writers, as FoundationDB's commit proxies do.
//!
//! Invariant: the published read version never runs ahead of what a new redb read
//! transaction sees (it is bumped only after the durable commit), so a snapshot is
//! never older than its read version and the resolver misses no conflict.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use async_trait::async_trait;
use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use super::backend::{Backend, Commit, KeyRange, Mutation, Snapshot, add_le};
use super::resolver::Resolver;
use super::{KeyValue, StoreError};

const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// How the redb backend commits.
#[derive(Debug, Clone, Copy)]
pub struct RedbOptions {
    /// Fold concurrent commits into one durable write transaction.
    pub group_commits: bool,
    /// The most commits folded into one write transaction.
    pub max_group: usize,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions { group_commits: true, max_group: 512 }
    }
}

struct CommitRequest {
    read_version: u64,
    commit: Commit,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// See the module documentation.
pub struct RedbBackend {
    db: Arc<Database>,
    version: Arc<AtomicU64>,
    committer: mpsc::Sender<CommitRequest>,
}

impl RedbBackend {
    pub fn open(path: &Path, options: RedbOptions) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(StoreError::backend)?;
        let setup = db.begin_write().map_err(StoreError::backend)?;
        setup.open_table(KV).map_err(StoreError::backend)?;
        setup.commit().map_err(StoreError::backend)?;
        let db = Arc::new(db);
        let version = Arc::new(AtomicU64::new(0));
        let (committer, queue) = mpsc::channel();
        let thread_db = db.clone();
        let thread_version = version.clone();
        std::thread::Builder::new()
            .name("securix-redb-commit".into())
            .spawn(move || run_committer(&thread_db, &thread_version, &queue, options))
            .map_err(StoreError::backend)?;
        Ok(RedbBackend { db, version, committer })
    }
}

#[async_trait]
impl Backend for RedbBackend {
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        // Version first, snapshot second: see the invariant in the module docs.
        let read_version = self.version.load(Ordering::Acquire);
        let read = self.db.begin_read().map_err(StoreError::backend)?;
        let table = read.open_table(KV).map_err(StoreError::backend)?;
        Ok(Box::new(RedbSnapshot { table, read_version, committer: self.committer.clone() }))
    }

    fn name(&self) -> &'static str {
        "redb"
    }
}

struct RedbSnapshot {
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    read_version: u64,
    committer: mpsc::Sender<CommitRequest>,
}

#[async_trait]
impl Snapshot for RedbSnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.table.get(key).map_err(StoreError::backend)?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let bounds = range.begin.as_slice()..range.end.as_slice();
        let pairs = self.table.range::<&[u8]>(bounds).map_err(StoreError::backend)?;
        let to_pair = |item: Result<_, redb::StorageError>| {
            let (key, value): (redb::AccessGuard<&[u8]>, redb::AccessGuard<&[u8]>) =
                item.map_err(StoreError::backend)?;
            Ok(KeyValue { key: key.value().to_vec(), value: value.value().to_vec() })
        };
        if reverse {
            pairs.rev().take(limit).map(to_pair).collect()
        } else {
            pairs.take(limit).map(to_pair).collect()
        }
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = CommitRequest { read_version: self.read_version, commit, reply };
        let gone = || StoreError::Backend("the redb committer has stopped".into());
        self.committer.send(request).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The committer thread: resolve, write durably, publish, answer.
fn run_committer(
    db: &Database,
    version: &AtomicU64,
    queue: &mpsc::Receiver<CommitRequest>,
    options: RedbOptions,
) {
    let mut resolver = Resolver::default();
    let mut next_version = version.load(Ordering::Acquire);
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while options.group_commits && batch.len() < options.max_group {
            match queue.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let accepted = resolve_batch(&resolver, batch);
        if accepted.is_empty() {
            continue;
        }
        match write_durably(db, &accepted) {
            Ok(()) => {
                let now = Instant::now();
                for request in &accepted {
                    next_version += 1;
                    resolver.record(next_version, &request.commit.mutations, now);
                }
                version.store(next_version, Ordering::Release);
                for request in accepted {
                    let _ = request.reply.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, "redb commit failed");
                for request in accepted {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Answers the conflicting requests of a batch and returns the others. A request
/// also conflicts with an earlier request of the same batch that wrote what it read.
fn resolve_batch(resolver: &Resolver, batch: Vec<CommitRequest>) -> Vec<CommitRequest> {
    let mut accepted: Vec<CommitRequest> = Vec::with_capacity(batch.len());
    let mut batch_writes: Vec<KeyRange> = Vec::new();
    for request in batch {
        let reads = &request.commit.reads;
        let verdict = resolver.check(request.read_version, reads).and_then(|()| {
            let hit = reads.iter().any(|read| batch_writes.iter().any(|w| w.overlaps(read)));
            if hit { Err(StoreError::Conflict) } else { Ok(()) }
        });
        match verdict {
            Ok(()) => {
                batch_writes.extend(request.commit.mutations.iter().map(Mutation::written_range));
                accepted.push(request);
            }
            Err(error) => {
                let _ = request.reply.send(Err(error));
            }
        }
    }
    accepted
}

fn write_durably(db: &Database, requests: &[CommitRequest]) -> Result<(), StoreError> {
    let mut write = db.begin_write().map_err(StoreError::backend)?;
    write.set_durability(Durability::Immediate).map_err(StoreError::backend)?;
    {
        let mut table = write.open_table(KV).map_err(StoreError::backend)?;
        for mutation in requests.iter().flat_map(|request| &request.commit.mutations) {
            match mutation {
                Mutation::Set { key, value } => {
                    table.insert(key.as_slice(), value.as_slice()).map_err(StoreError::backend)?;
                }
                Mutation::Clear { key } => {
                    table.remove(key.as_slice()).map_err(StoreError::backend)?;
                }
                Mutation::ClearRange(range) => {
                    let bounds = range.begin.as_slice()..range.end.as_slice();
                    table.retain_in::<&[u8], _>(bounds, |_, _| false).map_err(StoreError::backend)?;
                }
                Mutation::Add { key, delta } => {
                    let current = table.get(key.as_slice()).map_err(StoreError::backend)?;
                    let sum = add_le(current.as_ref().map(|guard| guard.value()), *delta);
                    drop(current);
                    table.insert(key.as_slice(), sum.as_slice()).map_err(StoreError::backend)?;
                }
            }
        }
    }
    write.commit().map_err(StoreError::backend)
}
