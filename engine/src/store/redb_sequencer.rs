//! The redb backend's sequencer: the state a commit passes through, behind one lock,
//! on the committing task itself — no thread to wake. It checks the commit for
//! conflicts, gives it the next version and commit-log sequence number, adds its
//! writes to the tail of the unflushed commits and hands its record to the log writer
//! thread, which makes it durable, seals the tail into a layer, publishes it and
//! answers (see `redb_log_writer`). It also freezes the unflushed commits for the
//! flusher thread when they grow many or the log writer idles, and takes them back once
//! flushed (see `redb`).

use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use redb::ReadableDatabase;

use super::StoreError;
use super::backend::Commit;
use super::commit_log::encode_record;
use super::redb::{KV, Published, Shared, poisoned};
use super::redb_flusher::FlushJob;
use super::redb_log_writer::{LogJob, Reply};
use super::resolver::Resolver;
use super::unflushed::{self, Tail, Unflushed};

/// A flush starts once the unflushed commits not being flushed hold `flush_at`
/// keys (`RedbOptions::flush_keys`), or when no commit came for this long.
pub(super) const FLUSH_IDLE: Duration = Duration::from_millis(50);
/// Past this many times `flush_at`, committers wait for the flush under way:
/// memory stays bounded when redb cannot keep up.
const BACKLOG_FLUSHES: usize = 8;

pub(super) struct Sequencer {
    /// Jobs for the log writer in sequence order; it takes them all when it writes.
    queue: Vec<LogJob>,
    /// The log records of the queued commits, one after the other (jobs say where
    /// theirs end): encoded in place, the log writer writes them as they are.
    records: Vec<u8>,
    /// Commits in `queue`.
    queued_commits: usize,
    /// The log writer waits on `Shared::writer_wake` (`wait_for_jobs`): wake it for
    /// the first job, and then for a complete group, not for every commit.
    writer_waiting: bool,
    /// The log writer has been told to stop.
    closed: bool,
    resolver: Resolver,
    /// The last version handed to the log writer (published once durable).
    version: u64,
    /// The unflushed commits sealed so far (see `seal_tail`); frozen ones are being
    /// flushed.
    unflushed: Unflushed,
    /// Writes sequenced since the last seal.
    tail: Tail,
    /// The next commit-log record's sequence number.
    next_seq: u64,
    /// Unflushed keys that start a flush.
    flush_at: usize,
}

impl Sequencer {
    pub fn new(next_seq: u64, flush_at: usize) -> Self {
        Sequencer {
            queue: Vec::new(),
            records: Vec::new(),
            queued_commits: 0,
            writer_waiting: false,
            closed: false,
            resolver: Resolver::default(),
            version: 0,
            unflushed: Unflushed::default(),
            tail: Tail::new(),
            next_seq,
            flush_at: flush_at.max(1),
        }
    }

    /// Checks `commit` read at `read_version`, and hands it to the log writer, which
    /// answers `reply`; answers at once if it conflicts or cannot be logged.
    pub fn commit(&mut self, shared: &Shared, read_version: u64, commit: Commit, reply: Reply) {
        let resolved = match shared.failure.get() {
            Some(failure) => Err(failure.clone()),
            None if self.closed => Err(closed()),
            None => {
                self.resolver.check(read_version, &commit.reads).and_then(|()| self.resolved(shared, &commit))
            }
        };
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        encode_record(self.next_seq, &commit.mutations, &mut self.records);
        self.next_seq += 1;
        self.version += 1;
        let horizon = || {
            let published = || shared.published().map_or(0, |published| published.version);
            shared.open_reads.horizon(published).unwrap_or(0)
        };
        self.resolver.record(self.version, &commit.mutations, horizon);
        match resolved {
            Some(writes) => self.tail.extend(writes),
            None => self.tail.extend(unflushed::blind_writes(commit.mutations)),
        }
        self.hand_over(shared, LogJob::Commit { reply, end: self.records.len() });
        if self.unfrozen_len() >= self.flush_at {
            self.start_flush(shared);
        }
        self.share_backlog(shared);
    }

    /// What `commit` writes, worked out before anything changes (so a failed read
    /// leaves no half-applied commit); `None` for a blind commit (most), whose own
    /// buffers join the tail once it is logged, without a copy.
    fn resolved(&self, shared: &Shared, commit: &Commit) -> Result<Option<Tail>, StoreError> {
        if commit.mutations.iter().all(unflushed::is_blind) {
            return Ok(None);
        }
        let open_base = || {
            let read = shared.db.begin_read().map_err(StoreError::backend)?;
            read.open_table(KV).map_err(StoreError::backend)
        };
        unflushed::writes_of(&commit.mutations, &self.tail, &self.unflushed, open_base).map(Some)
    }

    pub fn unfrozen_len(&self) -> usize {
        self.unflushed.unfrozen_len() + self.tail.len()
    }

    /// Whether committers should wait for the flush under way.
    fn backlogged(&self) -> bool {
        self.unflushed.is_frozen() && self.unfrozen_len() >= BACKLOG_FLUSHES * self.flush_at
    }

    /// Tells committers whether to wait (`Shared::backlogged`): a backlog only grows
    /// with a commit and only ends with a flush.
    fn share_backlog(&self, shared: &Shared) {
        shared.backlogged.store(self.backlogged(), std::sync::atomic::Ordering::Release);
    }

    pub fn queued_commits(&self) -> usize {
        self.queued_commits
    }

    pub fn has_jobs(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Hands the log writer every job so far, their records (taking `spare`, emptied,
    /// in their place) and what snapshots should read once they are durable: the
    /// tail becomes a layer.
    pub fn take_jobs(&mut self, mut spare: Vec<u8>) -> (Vec<LogJob>, Vec<u8>, Published) {
        self.queued_commits = 0;
        self.seal_tail();
        let published = Published::new(self.version, self.next_seq - 1, Arc::new(self.unflushed.clone()));
        spare.clear();
        (std::mem::take(&mut self.queue), std::mem::replace(&mut self.records, spare), published)
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.unflushed.push(std::mem::take(&mut self.tail));
        }
    }

    /// Queues `job` for the log writer; once it is told to stop, nothing more (a
    /// commit is refused before it gets here).
    fn hand_over(&mut self, shared: &Shared, job: LogJob) {
        if self.closed {
            return;
        }
        match job {
            LogJob::Commit { .. } => self.queued_commits += 1,
            LogJob::Close => self.closed = true,
            LogJob::Flush { .. } | LogJob::Flushed => {}
        }
        self.queue.push(job);
        let complete = self.queued_commits >= shared.open_reads.count();
        if self.writer_waiting && (self.queue.len() == 1 || complete) {
            shared.writer_wake.notify_one();
        }
    }

    /// Freezes the unflushed commits and has them flushed once they are durable,
    /// unless a flush is under way.
    pub fn start_flush(&mut self, shared: &Shared) {
        if self.unflushed.is_frozen() || (self.unflushed.is_empty() && self.tail.is_empty()) {
            return;
        }
        self.seal_tail();
        let layers = self.unflushed.freeze();
        let job = FlushJob { layers, logged: self.next_seq - 1 };
        self.hand_over(shared, LogJob::Flush { job, end: self.records.len() });
    }

    /// Takes in how the flush under way ended: its layers leave the unflushed
    /// commits (new snapshots read them from redb) and its log file is rewound; a
    /// flush that failed leaves both as they were, to be flushed again.
    ///
    /// Snapshots published before pair the frozen layers with redb before or after
    /// the flush — the same data either way, as the layers hold the newest values.
    pub fn finish_flush(&mut self, shared: &Shared, result: Result<(), StoreError>) {
        match result {
            Ok(()) => {
                self.unflushed.drop_frozen();
                self.hand_over(shared, LogJob::Flushed);
            }
            Err(error) => {
                tracing::error!(%error, "flushing commits into redb failed; they stay in the log");
                self.unflushed.thaw();
            }
        }
        self.share_backlog(shared);
    }

    /// Stops the log writer once it has written what it holds.
    pub fn close(&mut self, shared: &Shared) {
        self.hand_over(shared, LogJob::Close);
    }

    /// The log writer has stopped: commits still queued, and every later one, fail.
    pub fn abandon(&mut self, shared: &Shared) {
        self.closed = true;
        // The store's failure says why, when there is one.
        let refusal = shared.failure.get().cloned().unwrap_or_else(closed);
        for job in self.queue.drain(..) {
            if let LogJob::Commit { reply, .. } = job {
                let _ = reply.send(Err(refusal.clone()));
            }
        }
    }
}

fn closed() -> StoreError {
    StoreError::Backend("the redb store is closed".into())
}

/// The log writer's wait on the sequencer's lock, until a job wakes it (see
/// `Sequencer::hand_over`) or `timeout` passes.
pub(super) fn wait_for_jobs<'a>(
    shared: &'a Shared,
    mut sequencer: MutexGuard<'a, Sequencer>,
    timeout: Duration,
) -> Result<MutexGuard<'a, Sequencer>, StoreError> {
    sequencer.writer_waiting = true;
    let (mut sequencer, _) = shared.writer_wake.wait_timeout(sequencer, timeout).map_err(|_| poisoned())?;
    sequencer.writer_waiting = false;
    Ok(sequencer)
}
