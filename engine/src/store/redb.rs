//! The embedded default backend: one redb file, ACID and crash-safe, and a commit
//! log beside it.
//!
//! Commits go to one committer thread, which checks conflicts with the shared
//! resolver and, when grouping is on, takes every commit waiting in its queue at
//! once: their mutations become one record of the commit log (`commit_log`), one
//! sequential write and one fsync for many writers, as FoundationDB's commit proxies
//! do. Then they join the overlay (`overlay`) that every snapshot reads before redb,
//! and are acknowledged. The overlay is flushed into redb in one durable transaction
//! when it grows large or the committer is idle, and the log is emptied; on open,
//! whatever the log holds past redb's marker is replayed.
//!
//! Invariant: a snapshot takes its overlay and opens its redb read transaction
//! under one read lock, and the committer publishes each new overlay under the
//! write lock before it may flush that overlay into redb: a snapshot never pairs an
//! overlay with a redb state newer than it, so it reads exactly its read version.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition};
use tokio::sync::oneshot;

use super::backend::{Backend, Commit, KeyRange, Mutation, Snapshot, add_le};
use super::commit_log::CommitLog;
use super::overlay::{self, Overlay};
use super::resolver::Resolver;
use super::{KeyValue, StoreError};

const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
/// The last commit-log record redb holds.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LOG_SEQ: &str = "log_seq";

/// Flush the overlay into redb once it holds this many keys…
const FLUSH_AT: usize = 4096;
/// …or when no commit came for this long.
const FLUSH_IDLE: Duration = Duration::from_millis(50);

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

/// What a new snapshot reads: redb plus the overlay, at `version`.
struct Published {
    version: u64,
    overlay: Overlay,
}

struct Shared {
    db: Database,
    published: RwLock<Published>,
}

impl Shared {
    fn published(&self) -> Result<std::sync::RwLockReadGuard<'_, Published>, StoreError> {
        self.published.read().map_err(|_| StoreError::Backend("redb store lock poisoned".into()))
    }
}

/// See the module documentation.
pub struct RedbBackend {
    shared: Arc<Shared>,
    committer: mpsc::Sender<CommitRequest>,
}

impl RedbBackend {
    pub fn open(path: &Path, options: RedbOptions) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(StoreError::backend)?;
        let (mut log, records) = CommitLog::open(&path.with_extension("redb-log"))?;
        let setup = db.begin_write().map_err(StoreError::backend)?;
        let applied = {
            let mut table = setup.open_table(KV).map_err(StoreError::backend)?;
            let mut meta = setup.open_table(META).map_err(StoreError::backend)?;
            let applied = meta.get(LOG_SEQ).map_err(StoreError::backend)?.map_or(0, |seq| seq.value());
            // Replay what was acknowledged but never flushed.
            let pending: Vec<_> = records.into_iter().filter(|record| record.seq > applied).collect();
            for mutation in pending.iter().flat_map(|record| &record.mutations) {
                write(&mut table, mutation)?;
            }
            let last = pending.last().map_or(applied, |record| record.seq);
            meta.insert(LOG_SEQ, last).map_err(StoreError::backend)?;
            last
        };
        setup.commit().map_err(StoreError::backend)?;
        log.clear()?;
        log.continue_after(applied);
        let shared = Arc::new(Shared {
            db,
            published: RwLock::new(Published { version: 0, overlay: Overlay::new() }),
        });
        let (committer, queue) = mpsc::channel();
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("securix-redb-commit".into())
            .spawn(move || Committer::new(thread_shared, log, options).run(&queue))
            .map_err(StoreError::backend)?;
        Ok(RedbBackend { shared, committer })
    }
}

#[async_trait]
impl Backend for RedbBackend {
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        // Both under the lock: see the invariant in the module docs.
        let published = self.shared.published()?;
        let read = self.shared.db.begin_read().map_err(StoreError::backend)?;
        let table = read.open_table(KV).map_err(StoreError::backend)?;
        Ok(Box::new(RedbSnapshot {
            table,
            overlay: published.overlay.clone(),
            read_version: published.version,
            committer: self.committer.clone(),
        }))
    }

    fn name(&self) -> &'static str {
        "redb"
    }
}

struct RedbSnapshot {
    table: overlay::Table,
    overlay: Overlay,
    read_version: u64,
    committer: mpsc::Sender<CommitRequest>,
}

#[async_trait]
impl Snapshot for RedbSnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        overlay::get(&self.overlay, &self.table, key)
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        overlay::get_range(&self.overlay, &self.table, range, limit, reverse)
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = CommitRequest { read_version: self.read_version, commit, reply };
        let gone = || StoreError::Backend("the redb committer has stopped".into());
        self.committer.send(request).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The committer thread: resolve, log durably, publish, answer; flush now and then.
struct Committer {
    shared: Arc<Shared>,
    log: CommitLog,
    options: RedbOptions,
    resolver: Resolver,
    version: u64,
    /// The overlay as last published.
    overlay: Overlay,
    /// The last log record the overlay holds.
    logged: u64,
}

impl Committer {
    fn new(shared: Arc<Shared>, log: CommitLog, options: RedbOptions) -> Self {
        Committer {
            shared,
            log,
            options,
            resolver: Resolver::default(),
            version: 0,
            overlay: Overlay::new(),
            logged: 0,
        }
    }

    fn run(mut self, queue: &mpsc::Receiver<CommitRequest>) {
        loop {
            let first = match queue.recv_timeout(FLUSH_IDLE) {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => {
                    self.flush();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    return;
                }
            };
            let mut batch = vec![first];
            while self.options.group_commits && batch.len() < self.options.max_group {
                match queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let accepted = resolve_batch(&self.resolver, batch);
            if accepted.is_empty() {
                continue;
            }
            match self.log_and_publish(&accepted) {
                Ok(()) => {
                    let now = Instant::now();
                    for request in accepted {
                        self.version += 1;
                        self.resolver.record(self.version, &request.commit.mutations, now);
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
            if self.overlay.len() >= FLUSH_AT {
                self.flush();
            }
        }
    }

    /// Works out the new overlay first (it may fail on a read), then logs durably,
    /// then publishes: nothing is logged that is not also made visible.
    fn log_and_publish(&mut self, accepted: &[CommitRequest]) -> Result<(), StoreError> {
        let read = self.shared.db.begin_read().map_err(StoreError::backend)?;
        let base = read.open_table(KV).map_err(StoreError::backend)?;
        let mut overlay = self.overlay.clone();
        for request in accepted {
            overlay::apply(&mut overlay, &request.commit.mutations, &base)?;
        }
        let seq = self.log.append(accepted.iter().flat_map(|request| &request.commit.mutations))?;
        let mut published = self
            .shared
            .published
            .write()
            .map_err(|_| StoreError::Backend("redb store lock poisoned".into()))?;
        *published = Published { version: self.version + accepted.len() as u64, overlay: overlay.clone() };
        self.overlay = overlay;
        self.logged = seq;
        Ok(())
    }

    /// Writes the overlay into redb in one durable transaction, then empties it and
    /// the log. On failure both stay as they are (the log still holds every commit).
    ///
    /// No lock is held while redb writes: no commit is published meanwhile (this
    /// thread publishes), so every new snapshot pairs this very overlay with redb
    /// before or after the write — the same data either way — and a snapshot with an
    /// older overlay opened its redb transaction before that overlay was replaced.
    fn flush(&mut self) {
        if self.overlay.is_empty() {
            return;
        }
        if let Err(error) = write_overlay(&self.shared.db, &self.overlay, self.logged) {
            tracing::error!(%error, "flushing commits into redb failed; they stay in the log");
            return;
        }
        let Ok(mut published) = self.shared.published.write() else { return };
        published.overlay = Overlay::new();
        drop(published);
        self.overlay = Overlay::new();
        if let Err(error) = self.log.clear() {
            tracing::warn!(%error, "could not empty the redb commit log; it is replayed idempotently");
        }
    }
}

fn write_overlay(db: &Database, overlay: &Overlay, logged: u64) -> Result<(), StoreError> {
    let mut write = db.begin_write().map_err(StoreError::backend)?;
    write.set_durability(Durability::Immediate).map_err(StoreError::backend)?;
    {
        let mut table = write.open_table(KV).map_err(StoreError::backend)?;
        for (key, value) in overlay.iter() {
            match value {
                Some(value) => table.insert(&**key, &**value).map(drop),
                None => table.remove(&**key).map(drop),
            }
            .map_err(StoreError::backend)?;
        }
        let mut meta = write.open_table(META).map_err(StoreError::backend)?;
        meta.insert(LOG_SEQ, logged).map_err(StoreError::backend)?;
    }
    write.commit().map_err(StoreError::backend)
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

/// Applies one mutation to a redb table (replaying the log).
fn write(table: &mut Table<&[u8], &[u8]>, mutation: &Mutation) -> Result<(), StoreError> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RangeOptions, Store};

    fn key_values(pairs: &[KeyValue]) -> Vec<(u8, u8)> {
        pairs.iter().map(|pair| (pair.key[0], pair.value[0])).collect()
    }

    /// Reads see the overlay over what was flushed into redb: sets, clears, a range
    /// clear and an atomic add spanning both, forward and reverse, with a limit; and
    /// a reopened store replays what the log holds.
    #[tokio::test]
    async fn reads_merge_the_overlay_over_what_was_flushed() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let path = dir.path().join("store.redb");
        let log = path.with_extension("redb-log");
        let store = Store::open_redb(&path, RedbOptions::default())?;
        store
            .run(|tx| async move {
                for c in b'a'..=b'j' {
                    tx.set(&[c], &[c])?;
                }
                tx.atomic_add(b"~", 5)
            })
            .await?;
        tokio::time::sleep(FLUSH_IDLE * 6).await;
        assert_eq!(std::fs::metadata(&log).map_err(StoreError::backend)?.len(), 0, "flushed and emptied");
        store
            .run(|tx| async move {
                tx.clear_range(b"c", b"g")?;
                tx.set(b"e", b"E")?;
                tx.set(b"k", b"k")?;
                tx.clear(b"a")?;
                tx.atomic_add(b"~", 3)
            })
            .await?;
        assert!(std::fs::metadata(&log).map_err(StoreError::backend)?.len() > 0, "in the log, not flushed");
        let expected = vec![
            (b'b', b'b'),
            (b'e', b'E'),
            (b'g', b'g'),
            (b'h', b'h'),
            (b'i', b'i'),
            (b'j', b'j'),
            (b'k', b'k'),
        ];
        let tx = store.begin().await?;
        let all = tx.get_range(b"a", b"z", RangeOptions::limit(100)).await?;
        assert_eq!(key_values(&all), expected);
        let last = tx.get_range(b"a", b"z", RangeOptions::limit(3).reversed()).await?;
        assert_eq!(key_values(&last), vec![(b'k', b'k'), (b'j', b'j'), (b'i', b'i')]);
        assert_eq!(tx.get(b"d").await?, None);
        assert_eq!(tx.get(b"~").await?, Some(8i64.to_le_bytes().to_vec()));
        drop(tx);
        drop(store);

        // Reopened (once the committer let go of the file): nothing applied twice.
        let mut reopened = Store::open_redb(&path, RedbOptions::default());
        for _ in 0..100 {
            if reopened.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            reopened = Store::open_redb(&path, RedbOptions::default());
        }
        let store = reopened?;
        let tx = store.begin().await?;
        assert_eq!(key_values(&tx.get_range(b"a", b"z", RangeOptions::limit(100)).await?), expected);
        assert_eq!(tx.get(b"~").await?, Some(8i64.to_le_bytes().to_vec()));
        Ok(())
    }
}
