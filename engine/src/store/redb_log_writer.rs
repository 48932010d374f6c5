//! The redb backend's log-writer thread: it makes the records the sequencer hands it
//! durable and only then publishes them and answers their commits. Whatever came
//! while an fsync was under way goes into the next write together — one write and
//! one fsync for all of it — while committers go on sequencing the next ones.
//!
//! A write that fails stops all commits for good (fail-stop, as PostgreSQL does on
//! a failed fsync): later commits were already sequenced on top of records that may
//! not be durable, and a page cache that failed to write back cannot be trusted.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::StoreError;
use super::commit_log::CommitLog;
use super::redb::{Published, RedbOptions, Shared};
use super::redb_flusher::FlushJob;
use super::redb_sequencer::{FLUSH_IDLE, wait_for_jobs};

/// The longest a group waits for more commits.
const MAX_PATIENCE: Duration = Duration::from_millis(1);

pub(super) type Reply = oneshot::Sender<Result<(), StoreError>>;

pub(super) enum LogJob {
    /// A commit, whom to answer and where its record ends among the records taken
    /// with it (see `Sequencer::take_jobs`).
    Commit { reply: Reply, end: usize },
    /// Every record before `end` is to be flushed into redb: once they are durable,
    /// appends move to the log's other file and the flusher gets the job.
    Flush { job: FlushJob, end: usize },
    /// The last flush is in redb: its log file is rewound (and the next publication
    /// lacks its layers).
    Flushed,
    /// The store is closing: write what is left and stop.
    Close,
}

pub(super) struct LogWriter {
    shared: Arc<Shared>,
    log: CommitLog,
    /// Gone once a write failed: nothing is flushed after that.
    flusher: Option<mpsc::Sender<FlushJob>>,
    /// Without grouping, each commit gets a write and an fsync of its own.
    options: RedbOptions,
    /// How long the last write and fsync took.
    last_sync: Duration,
    /// The records buffer written last, handed back to the sequencer for reuse.
    spare: Vec<u8>,
}

/// Starts the log-writer thread, appending to `log` and handing flushes to `flusher`.
/// However it ends, nothing may wait for it afterwards: the commits still queued, and
/// every later one, fail.
pub(super) fn spawn(
    shared: Arc<Shared>,
    log: CommitLog,
    flusher: mpsc::Sender<FlushJob>,
    options: RedbOptions,
) -> Result<(), StoreError> {
    let writer = LogWriter {
        shared: shared.clone(),
        log,
        flusher: Some(flusher),
        options,
        last_sync: Duration::ZERO,
        spare: Vec::new(),
    };
    std::thread::Builder::new()
        .name("securix-redb-log".into())
        .spawn(move || {
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| writer.run()));
            if ended.is_err() {
                // Readiness reports it, as it does a log that cannot be written.
                refuse_commits(&shared, "the redb log writer stopped".into());
            }
            if let Ok(mut sequencer) = shared.sequencer() {
                sequencer.abandon(&shared);
            }
        })
        .map(drop)
        .map_err(StoreError::backend)
}

impl LogWriter {
    fn run(mut self) {
        loop {
            let (jobs, records, published) = match self.take_jobs() {
                Ok(taken) => taken,
                Err(error) => {
                    tracing::error!(%error, "the redb log writer stopped");
                    return;
                }
            };
            let open = self.write(jobs, &records, published);
            self.spare = records;
            if !open {
                return;
            }
        }
    }

    /// Waits for a job, then for the rest of the group, and takes every job the
    /// sequencer holds, their records, and what to publish once they are durable.
    fn take_jobs(&mut self) -> Result<(Vec<LogJob>, Vec<u8>, Published), StoreError> {
        let shared = self.shared.clone();
        let mut sequencer = shared.sequencer()?;
        while !sequencer.has_jobs() {
            sequencer = wait_for_jobs(&shared, sequencer, FLUSH_IDLE)?;
            if !sequencer.has_jobs() {
                // Idle: a good time to flush what is unflushed.
                sequencer.start_flush(&shared);
            }
        }
        let started = Instant::now();
        loop {
            let patience = self.patience(sequencer.queued_commits(), started);
            if patience.is_zero() {
                return Ok(sequencer.take_jobs(std::mem::take(&mut self.spare)));
            }
            sequencer = wait_for_jobs(&shared, sequencer, patience)?;
        }
    }

    /// How much longer to wait for commits: none once every open transaction's
    /// commit is queued (a lone writer never waits), else until it has waited as
    /// long as the last fsync took — so waiting at most doubles a commit's latency,
    /// while many writers share one fsync instead of splitting into cohorts.
    fn patience(&self, queued_commits: usize, started: Instant) -> Duration {
        let open = self.shared.open_reads.count();
        if !self.options.group_commits || queued_commits == 0 || queued_commits >= open {
            return Duration::ZERO;
        }
        (started + self.last_sync).saturating_duration_since(Instant::now())
    }

    /// Writes `records` in order — together, with one fsync, when grouping — doing
    /// the flush work of `jobs` where it falls among them, then publishes `published`
    /// and answers every commit. Answers false once the store is closing.
    fn write(&mut self, jobs: Vec<LogJob>, records: &[u8], published: Published) -> bool {
        #[cfg(test)]
        assert!(!self.shared.break_log_writer.load(std::sync::atomic::Ordering::SeqCst), "broken on purpose");
        let mut open = true;
        let mut replies = Vec::with_capacity(jobs.len());
        let mut result = match self.shared.failure.get() {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        };
        // `records[..synced]` are durable.
        let mut synced = 0;
        for job in jobs {
            match job {
                LogJob::Commit { reply, end } => {
                    replies.push(reply);
                    if !self.options.group_commits {
                        result = result.and_then(|()| self.sync(&records[synced..end]));
                        synced = end;
                    }
                }
                LogJob::Flush { job, end } => {
                    result = result.and_then(|()| self.sync(&records[synced..end]));
                    synced = end;
                    self.log.switch_files();
                    if let (Ok(()), Some(flusher)) = (&result, &self.flusher) {
                        let _ = flusher.send(job);
                    }
                }
                LogJob::Flushed => self.log.clear_previous(),
                LogJob::Close => open = false,
            }
        }
        let result =
            result.and_then(|()| self.sync(&records[synced..])).and_then(|()| self.shared.publish(published));
        let result = result.map_err(|error| self.fail(error));
        for reply in replies {
            let _ = reply.send(result.clone());
        }
        open
    }

    /// Appends `records` durably.
    fn sync(&mut self, records: &[u8]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let appended = self.log.append(records);
        self.last_sync = started.elapsed().min(MAX_PATIENCE);
        appended
    }

    /// The log failed: every commit is refused from now on. Answers the refusal.
    fn fail(&mut self, error: StoreError) -> StoreError {
        self.flusher = None;
        refuse_commits(&self.shared, format!("the redb commit log could not be written ({error})"))
    }
}

/// Sets the store's failure, once (the first cause stays): every commit is refused
/// until a restart. Answers the refusal in force.
fn refuse_commits(shared: &Shared, cause: String) -> StoreError {
    let refusal = shared.failure.get_or_init(|| {
        tracing::error!(%cause, "refusing all commits from now on");
        StoreError::Halted { cause }
    });
    refusal.clone()
}
