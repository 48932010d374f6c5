//! The redb backend's committer thread: it resolves conflicts, folds the commits
//! waiting in its queue into one commit-log record, publishes them to new snapshots
//! and answers; now and then it flushes what it published into redb (see `redb`).

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase};
use tokio::sync::oneshot;

use super::StoreError;
use super::backend::{Commit, KeyRange, Mutation};
use super::commit_log::CommitLog;
use super::redb::{KV, LOG_SEQ, META, Published, RedbOptions, Shared};
use super::resolver::Resolver;
use super::unflushed::{self, Unflushed};

/// Flush the unflushed commits into redb once it holds this many keys…
const FLUSH_AT: usize = 4096;
/// …or when no commit came for this long.
pub(super) const FLUSH_IDLE: Duration = Duration::from_millis(50);

pub(super) struct CommitRequest {
    pub read_version: u64,
    pub commit: Commit,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// The committer thread: resolve, log durably, publish, answer; flush now and then.
pub(super) struct Committer {
    shared: Arc<Shared>,
    log: CommitLog,
    options: RedbOptions,
    resolver: Resolver,
    version: u64,
    /// The unflushed commits as last published.
    unflushed: Unflushed,
    /// The last log record they reach.
    logged: u64,
}

impl Committer {
    pub fn new(shared: Arc<Shared>, log: CommitLog, options: RedbOptions) -> Self {
        Committer {
            shared,
            log,
            options,
            resolver: Resolver::default(),
            version: 0,
            unflushed: Unflushed::new(),
            logged: 0,
        }
    }

    pub fn run(mut self, queue: &mpsc::Receiver<CommitRequest>) {
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
            if self.unflushed.len() >= FLUSH_AT {
                self.flush();
            }
        }
    }

    /// Works out the new unflushed commits first (it may fail on a read), then logs durably,
    /// then publishes: nothing is logged that is not also made visible.
    fn log_and_publish(&mut self, accepted: &[CommitRequest]) -> Result<(), StoreError> {
        let read = self.shared.db.begin_read().map_err(StoreError::backend)?;
        let base = read.open_table(KV).map_err(StoreError::backend)?;
        let mut unflushed = self.unflushed.clone();
        for request in accepted {
            unflushed::apply(&mut unflushed, &request.commit.mutations, &base)?;
        }
        let seq = self.log.append(accepted.iter().flat_map(|request| &request.commit.mutations))?;
        let mut published = self
            .shared
            .published
            .write()
            .map_err(|_| StoreError::Backend("redb store lock poisoned".into()))?;
        *published =
            Published { version: self.version + accepted.len() as u64, unflushed: unflushed.clone() };
        self.unflushed = unflushed;
        self.logged = seq;
        Ok(())
    }

    /// Writes the unflushed commits into redb in one durable transaction, then empties it and
    /// the log. On failure both stay as they are (the log still holds every commit).
    ///
    /// No lock is held while redb writes: no commit is published meanwhile (this
    /// thread publishes), so every new snapshot pairs these very commits with redb
    /// before or after the write — the same data either way — and a snapshot with an
    /// older set opened its redb transaction before that set was replaced.
    fn flush(&mut self) {
        if self.unflushed.is_empty() {
            return;
        }
        if let Err(error) = write_unflushed(&self.shared.db, &self.unflushed, self.logged) {
            tracing::error!(%error, "flushing commits into redb failed; they stay in the log");
            return;
        }
        let Ok(mut published) = self.shared.published.write() else { return };
        published.unflushed = Unflushed::new();
        drop(published);
        self.unflushed = Unflushed::new();
        if let Err(error) = self.log.clear() {
            tracing::warn!(%error, "could not empty the redb commit log; it is replayed idempotently");
        }
    }
}

fn write_unflushed(db: &Database, unflushed: &Unflushed, logged: u64) -> Result<(), StoreError> {
    let mut write = db.begin_write().map_err(StoreError::backend)?;
    write.set_durability(Durability::Immediate).map_err(StoreError::backend)?;
    {
        let mut table = write.open_table(KV).map_err(StoreError::backend)?;
        for (key, value) in unflushed.iter() {
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
