//! The redb backend's committer thread: it resolves conflicts, folds the commits
//! waiting in its queue into one commit-log record and one layer of unflushed
//! commits, publishes them to new snapshots and answers; when the unflushed commits
//! grow many or it is idle, it freezes them for the flusher thread (see `redb`).

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use redb::ReadableDatabase;
use tokio::sync::oneshot;

use super::StoreError;
use super::backend::{Commit, KeyRange, Mutation};
use super::commit_log::CommitLog;
use super::redb::{KV, Published, RedbOptions, Shared};
use super::redb_flusher::{FlushJob, Flusher};
use super::resolver::Resolver;
use super::unflushed::{self, Unflushed};

/// Start a flush once the unflushed commits not being flushed hold this many keys…
const FLUSH_AT: usize = 4096;
/// …or when no commit came for this long.
pub(super) const FLUSH_IDLE: Duration = Duration::from_millis(50);
/// Past this many, commits wait for the flush under way: memory stays bounded
/// when redb cannot keep up.
const FLUSH_BACKLOG: usize = 8 * FLUSH_AT;

pub(super) struct CommitRequest {
    pub read_version: u64,
    pub commit: Commit,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// The committer thread: resolve, log durably, publish, answer; freeze for flushes.
pub(super) struct Committer {
    shared: Arc<Shared>,
    log: CommitLog,
    flusher: Flusher,
    options: RedbOptions,
    resolver: Resolver,
    version: u64,
    /// The unflushed commits as last published; frozen ones are being flushed.
    unflushed: Unflushed,
    /// The last log record they reach.
    logged: u64,
}

impl Committer {
    pub fn new(shared: Arc<Shared>, log: CommitLog, flusher: Flusher, options: RedbOptions) -> Self {
        Committer {
            shared,
            log,
            flusher,
            options,
            resolver: Resolver::default(),
            version: 0,
            unflushed: Unflushed::default(),
            logged: 0,
        }
    }

    pub fn run(mut self, queue: &mpsc::Receiver<CommitRequest>) {
        loop {
            self.finish_flush(false);
            let first = match queue.recv_timeout(FLUSH_IDLE) {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => {
                    self.finish_flush(false);
                    self.start_flush();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish_flush(true);
                    self.start_flush();
                    self.finish_flush(true);
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
            let pending = self.unflushed.unfrozen_len();
            if pending >= FLUSH_AT {
                self.start_flush();
            }
            if pending >= FLUSH_BACKLOG {
                self.finish_flush(true);
            }
        }
    }

    /// Works out the batch's layer first (it may fail on a read), then logs durably,
    /// then publishes: nothing is logged that is not also made visible.
    fn log_and_publish(&mut self, accepted: &[CommitRequest]) -> Result<(), StoreError> {
        let read = self.shared.db.begin_read().map_err(StoreError::backend)?;
        let base = read.open_table(KV).map_err(StoreError::backend)?;
        let commits = accepted.iter().map(|request| request.commit.mutations.as_slice());
        let layer = unflushed::layer_of(commits, &self.unflushed, &base)?;
        let seq = self.log.append(accepted.iter().flat_map(|request| &request.commit.mutations))?;
        self.unflushed.push(layer);
        self.logged = seq;
        self.publish(self.version + accepted.len() as u64)
    }

    fn publish(&self, version: u64) -> Result<(), StoreError> {
        let unflushed = Arc::new(self.unflushed.clone());
        let mut published = self
            .shared
            .published
            .write()
            .map_err(|_| StoreError::Backend("redb store lock poisoned".into()))?;
        *published = Published { version, unflushed };
        Ok(())
    }

    /// Freezes the unflushed commits and hands them to the flusher, unless a flush is
    /// under way; the log moves to its other file, to be emptied when it is done.
    fn start_flush(&mut self) {
        if self.unflushed.is_frozen() || self.unflushed.is_empty() {
            return;
        }
        let layers = self.unflushed.freeze();
        self.log.switch_files();
        if let Err(error) = self.flusher.start(FlushJob { layers, logged: self.logged }) {
            tracing::error!(%error, "could not flush commits into redb; they stay in the log");
            self.unflushed.thaw();
        }
    }

    /// Takes in the flush under way if it is done (or once it is, if `wait`): its
    /// layers leave the unflushed commits (new snapshots read them from redb) and
    /// its log file is emptied. A flush that failed leaves both as they were.
    ///
    /// Snapshots published before pair the frozen layers with redb before or after
    /// the flush — the same data either way, as the layers hold the newest values.
    fn finish_flush(&mut self, wait: bool) {
        if !self.unflushed.is_frozen() {
            return;
        }
        match self.flusher.finished(wait) {
            None => {}
            Some(Ok(())) => {
                self.unflushed.drop_frozen();
                if let Err(error) = self.publish(self.version) {
                    tracing::error!(%error, "could not publish the flushed commits");
                }
                self.log.clear_previous();
            }
            Some(Err(error)) => {
                tracing::error!(%error, "flushing commits into redb failed; they stay in the log");
                self.unflushed.thaw();
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
