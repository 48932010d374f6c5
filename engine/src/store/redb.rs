//! The embedded default backend: one redb file, ACID and crash-safe, and a commit
//! log beside it.
//!
//! A commit goes through the sequencer (`redb_sequencer`) on the committing task:
//! it is checked for conflicts with the shared resolver and becomes one record of
//! the commit log (`commit_log`) and joins the tail of the unflushed commits
//! (`unflushed`), which every snapshot reads before redb. A log-writer thread
//! (`redb_log_writer`) writes all the records that reached it while it synced the
//! last ones in one write and one fsync, for many writers, as FoundationDB's commit
//! proxies do — then seals the tail into one layer, publishes it and answers. When the unflushed commits grow
//! many or the log writer idles, the sequencer freezes them and a flusher thread
//! (`redb_flusher`) writes them into redb in one durable transaction while commits
//! go on; then they leave the unflushed commits and their log file is rewound. On
//! open, whatever the log holds past redb's marker is replayed.
//!
//! Invariant: the log writer publishes each new set of unflushed commits, with the last
//! log record it holds, before any of it is flushed, and drops flushed layers only
//! once redb holds them. A snapshot takes one published set; the first of its
//! snapshots to read opens a redb read transaction, which the others share
//! (write-only transactions open none): if redb holds records past the set's last
//! one by then, the read fails with a retryable conflict. So a snapshot never pairs
//! the unflushed commits with a redb state newer than they are, nor misses a layer
//! redb lacks: it reads exactly its read version.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition};
use tokio::sync::{Notify, oneshot};

use super::backend::{Backend, Commit, KeyRange, Mutation, Snapshot, add_le};
use super::commit_log::CommitLog;
use super::open_reads::{OpenRead, OpenReads};
use super::redb_sequencer::Sequencer;
use super::unflushed::{self, Unflushed};
use super::{KeyValue, StoreError};
use super::{redb_flusher, redb_log_writer};

pub(super) const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
/// The last commit-log record redb holds.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(super) const LOG_SEQ: &str = "log_seq";

/// How the redb backend commits.
#[derive(Debug, Clone, Copy)]
pub struct RedbOptions {
    /// Write the records of concurrent commits together, with one fsync.
    pub group_commits: bool,
    /// Flush the unflushed commits into redb once they hold this many keys (or
    /// the store idles). Commits wait while eight times as many wait for a flush
    /// under way, so this bounds the memory they take.
    pub flush_keys: usize,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions { group_commits: true, flush_keys: 4096 }
    }
}

/// What a new snapshot reads: redb plus the unflushed commits, at `version`.
pub(super) struct Published {
    pub version: u64,
    /// The last commit-log record these commits reach.
    pub logged: u64,
    pub unflushed: Arc<Unflushed>,
    /// redb as the first snapshot of these commits to read found it, shared by the
    /// others: one redb read transaction per publication, not per snapshot.
    pub table: Arc<OnceLock<unflushed::Table>>,
}

impl Published {
    pub fn new(version: u64, logged: u64, unflushed: Arc<Unflushed>) -> Self {
        Published { version, logged, unflushed, table: Arc::default() }
    }
}

pub(super) struct Shared {
    pub db: Database,
    pub published: RwLock<Published>,
    /// Set when the commit log failed: every commit is refused from then on.
    pub failure: OnceLock<StoreError>,
    /// Transactions begun and not yet over: the log writer waits for their commits,
    /// and the resolver forgets writes older than the oldest.
    pub open_reads: Arc<OpenReads>,
    pub sequencer: Mutex<Sequencer>,
    /// Where the log writer waits for the sequencer's jobs.
    pub writer_wake: Condvar,
    /// Woken after each flush, for committers waiting on a backlog.
    pub flushed: Notify,
    /// Whether committers should wait for the flush under way, as the sequencer
    /// last saw it (`Sequencer::backlogged`): read after every commit without
    /// taking the sequencer's lock a second time.
    pub backlogged: AtomicBool,
    /// Tests: how many of the next flushes panic inside the flusher.
    #[cfg(test)]
    pub flushes_to_break: std::sync::atomic::AtomicUsize,
    /// Tests: the log writer panics at its next write.
    #[cfg(test)]
    pub break_log_writer: std::sync::atomic::AtomicBool,
}

pub(super) fn poisoned() -> StoreError {
    StoreError::Backend("redb store lock poisoned".into())
}

impl Shared {
    pub fn published(&self) -> Result<std::sync::RwLockReadGuard<'_, Published>, StoreError> {
        self.published.read().map_err(|_| poisoned())
    }

    pub fn publish(&self, published: Published) -> Result<(), StoreError> {
        *self.published.write().map_err(|_| poisoned())? = published;
        Ok(())
    }

    pub fn sequencer(&self) -> Result<MutexGuard<'_, Sequencer>, StoreError> {
        self.sequencer.lock().map_err(|_| poisoned())
    }

    /// Waits while the flusher is far behind (see `Sequencer::backlogged`).
    async fn while_backlogged(&self) {
        while self.backlogged.load(Ordering::Acquire) {
            let flushed = self.flushed.notified();
            tokio::pin!(flushed);
            // Registered before the second look, so a flush ending in between wakes it.
            flushed.as_mut().enable();
            if !self.backlogged.load(Ordering::Acquire) {
                return;
            }
            flushed.await;
        }
    }
}

/// See the module documentation.
pub struct RedbBackend {
    shared: Arc<Shared>,
}

impl RedbBackend {
    pub fn open(path: &Path, options: RedbOptions) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(StoreError::backend)?;
        let (mut log, records) = CommitLog::open(path)?;
        let setup = db.begin_write().map_err(StoreError::backend)?;
        let last_logged = {
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
        log.clear();
        let shared = Arc::new(Shared {
            db,
            published: RwLock::new(Published::new(0, last_logged, Arc::default())),
            failure: OnceLock::new(),
            open_reads: Arc::default(),
            sequencer: Mutex::new(Sequencer::new(last_logged + 1, options.flush_keys)),
            writer_wake: Condvar::new(),
            flushed: Notify::new(),
            backlogged: AtomicBool::new(false),
            #[cfg(test)]
            flushes_to_break: Default::default(),
            #[cfg(test)]
            break_log_writer: Default::default(),
        });
        let flush_jobs = redb_flusher::spawn(shared.clone())?;
        redb_log_writer::spawn(shared.clone(), log, flush_jobs, options)?;
        Ok(RedbBackend { shared })
    }
}

impl Drop for RedbBackend {
    /// The log writer writes what it holds and stops; so does the flusher. What was not
    /// flushed yet is replayed from the log on the next open.
    fn drop(&mut self) {
        if let Ok(mut sequencer) = self.shared.sequencer() {
            sequencer.close(&self.shared);
        }
    }
}

#[async_trait]
impl Backend for RedbBackend {
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        let (open, (unflushed, table, logged)) = self.shared.open_reads.open(|| {
            let published = self.shared.published()?;
            let read = (published.unflushed.clone(), published.table.clone(), published.logged);
            Ok((published.version, read))
        })?;
        Ok(Box::new(RedbSnapshot { table, unflushed, logged, shared: self.shared.clone(), open }))
    }

    fn name(&self) -> &'static str {
        "redb"
    }

    fn failure(&self) -> Option<StoreError> {
        self.shared.failure.get().cloned()
    }

    /// A publication holds every commit up to its version, and only those.
    fn version(&self) -> Option<u64> {
        self.shared.published().ok().map(|published| published.version)
    }
}

struct RedbSnapshot {
    /// redb as of the first read of this publication (see the invariant in the
    /// module docs).
    table: Arc<OnceLock<unflushed::Table>>,
    unflushed: Arc<Unflushed>,
    /// The last commit-log record `unflushed` reaches.
    logged: u64,
    shared: Arc<Shared>,
    /// Its read version; while it is open the resolver keeps the writes it could
    /// conflict with, and the log writer counts on its commit.
    open: OpenRead,
}

impl RedbSnapshot {
    /// redb's table, opened at the first read of any snapshot of this publication; a
    /// retryable conflict if redb already holds commits newer than the publication.
    fn table(&self) -> Result<&unflushed::Table, StoreError> {
        if let Some(table) = self.table.get() {
            return Ok(table);
        }
        let read = self.shared.db.begin_read().map_err(StoreError::backend)?;
        let meta = read.open_table(META).map_err(StoreError::backend)?;
        let flushed = meta.get(LOG_SEQ).map_err(StoreError::backend)?.map_or(0, |seq| seq.value());
        if flushed > self.logged {
            return Err(StoreError::Conflict);
        }
        let table = read.open_table(KV).map_err(StoreError::backend)?;
        Ok(self.table.get_or_init(|| table))
    }
}

#[async_trait]
impl Snapshot for RedbSnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        unflushed::get(&self.unflushed, self.table()?, key)
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        unflushed::get_range(&self.unflushed, self.table()?, range, limit, reverse)
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.shared.sequencer()?.commit(&self.shared, self.open.version(), commit, reply);
        let answer =
            answer.await.map_err(|_| StoreError::Backend("the redb log writer has stopped".into()))?;
        self.shared.while_backlogged().await;
        answer
    }

    fn version(&self) -> Option<u64> {
        Some(self.open.version())
    }
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
    use std::time::Duration;

    use super::*;
    use crate::store::redb_sequencer::FLUSH_IDLE;
    use crate::store::{RangeOptions, Store};

    /// Opens the store at `path` again once the threads of the last one let go of it.
    async fn reopen(path: &Path) -> Result<Store, StoreError> {
        let mut attempts = 0;
        loop {
            match Store::open_redb(path, RedbOptions::default()) {
                Err(_) if attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                opened => return opened,
            }
        }
    }

    /// A store at `path`, and its shared state for the test to look into.
    fn opened(path: &Path) -> Result<(Arc<Shared>, Store), StoreError> {
        let backend = RedbBackend::open(path, RedbOptions::default())?;
        Ok((backend.shared.clone(), Store::new(backend)))
    }

    fn key_values(pairs: &[KeyValue]) -> Vec<(u8, u8)> {
        pairs.iter().map(|pair| (pair.key[0], pair.value[0])).collect()
    }

    /// Reads see the unflushed commits over what was flushed into redb: sets, clears, a range
    /// clear and an atomic add spanning both, forward and reverse, with a limit; and
    /// a reopened store replays what the log holds.
    #[tokio::test]
    async fn reads_merge_the_overlay_over_what_was_flushed() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let path = dir.path().join("store.redb");
        let (shared, store) = opened(&path)?;
        store
            .run(|tx| async move {
                for c in b'a'..=b'j' {
                    tx.set(&[c], &[c])?;
                }
                tx.atomic_add(b"~", 5)
            })
            .await?;
        until_flushed(&shared).await?;
        store
            .run(|tx| async move {
                tx.clear_range(b"c", b"g")?;
                tx.set(b"e", b"E")?;
                tx.set(b"k", b"k")?;
                tx.clear(b"a")?;
                tx.atomic_add(b"~", 3)
            })
            .await?;
        assert!(!shared.published()?.unflushed.is_empty(), "in the log, not flushed");
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
        drop(shared);

        // Reopened: nothing applied twice.
        let store = reopen(&path).await?;
        let tx = store.begin().await?;
        assert_eq!(key_values(&tx.get_range(b"a", b"z", RangeOptions::limit(100)).await?), expected);
        assert_eq!(tx.get(b"~").await?, Some(8i64.to_le_bytes().to_vec()));
        Ok(())
    }

    /// Snapshots read exactly their version while flushes run beside the commits:
    /// every commit writes a new key and counts it in one transaction, and a reader
    /// must always find as many keys as the count says, forwards and backwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshots_stay_whole_while_commits_are_flushed() -> Result<(), StoreError> {
        const WRITERS: usize = 8;
        const EACH: usize = 1500; // 12,000 keys: several flushes of 4,096
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let path = dir.path().join("store.redb");
        let store = Store::open_redb(&path, RedbOptions::default())?;
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for n in 0..EACH {
                    let key = format!("k/{writer}/{n:05}").into_bytes();
                    store
                        .run(|tx| {
                            let key = key.clone();
                            async move {
                                tx.set(&key, &[7; 100])?;
                                tx.atomic_add(b"n", 1)
                            }
                        })
                        .await?;
                }
                Ok::<_, StoreError>(())
            }));
        }
        let count = |tx: crate::store::Tx| async move {
            let n = crate::store::read_le(tx.get(b"n").await?.as_deref());
            let keys = tx.get_range(b"k/", b"k0", RangeOptions::default()).await?;
            let last = tx.get_range(b"k/", b"k0", RangeOptions::limit(3).reversed()).await?;
            let expected: Vec<_> = keys.iter().rev().take(3).cloned().collect();
            assert_eq!(last, expected, "the reverse read agrees with the forward one");
            Ok::<_, StoreError>((n, keys.len() as i64))
        };
        let mut reads = 0;
        while !writers.iter().all(|writer| writer.is_finished()) {
            let (n, keys) = count(store.begin().await?).await?;
            assert_eq!(n, keys, "a snapshot saw {keys} keys but a count of {n}");
            reads += 1;
        }
        for writer in writers {
            writer.await.map_err(StoreError::backend)??;
        }
        assert!(reads > 3, "the reader ran beside the writers ({reads} reads)");
        let (n, keys) = count(store.begin().await?).await?;
        assert_eq!((n, keys), ((WRITERS * EACH) as i64, (WRITERS * EACH) as i64));
        drop(store);
        let reopened = reopen(&path).await?;
        assert_eq!(count(reopened.begin().await?).await?, (n, keys));
        Ok(())
    }

    /// A commit log that cannot be written stops all commits (fail-stop) and loses
    /// nothing acknowledged: the commit that hit the failure and every later one fail,
    /// reads go on, and a reopened store holds exactly what was acknowledged. The
    /// failure is made with the immutable attribute, which refuses writes through
    /// descriptors already open.
    #[tokio::test]
    async fn a_commit_log_that_cannot_be_written_stops_all_commits() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let path = dir.path().join("store.redb");
        let store = Store::open_redb(&path, RedbOptions::default())?;
        store.run(|tx| async move { tx.set(b"kept", b"1") }).await?;
        let chattr = |flag: &str| {
            crate::store::commit_log::file_paths(&path).iter().all(|file| {
                let status = std::process::Command::new("chattr").arg(flag).arg(file).status();
                status.is_ok_and(|status| status.success())
            })
        };
        if !chattr("+i") {
            chattr("-i");
            eprintln!("SKIPPED: files cannot be made immutable here (chattr +i), so the log cannot fail");
            return Ok(());
        }
        let failed = store.run(|tx| async move { tx.set(b"lost", b"2") }).await;
        let refused = store.run(|tx| async move { tx.set(b"later", b"3") }).await;
        let tx = store.begin().await?;
        let (kept, lost) = (tx.get(b"kept").await?, tx.get(b"lost").await?);
        drop(tx);
        assert!(chattr("-i"), "the log files are writable again");
        assert!(
            matches!(&failed, Err(StoreError::Halted { .. })),
            "the commit that met the failure must not be acknowledged, and says why: {failed:?}"
        );
        assert!(matches!(&refused, Err(StoreError::Halted { .. })), "{refused:?}");
        assert_eq!(
            (kept, lost),
            (Some(b"1".to_vec()), None),
            "reads go on and see only acknowledged commits"
        );
        assert!(store.failure().is_some(), "the store says it refuses commits");
        drop(store);
        let tx = reopen(&path).await?.begin().await?;
        assert_eq!(tx.get(b"kept").await?, Some(b"1".to_vec()));
        assert_eq!((tx.get(b"lost").await?, tx.get(b"later").await?), (None, None));
        Ok(())
    }

    /// Waits until every commit so far is flushed into redb.
    async fn until_flushed(shared: &Shared) -> Result<(), StoreError> {
        for _ in 0..100 {
            if shared.published()?.unflushed.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(FLUSH_IDLE).await;
        }
        Err(StoreError::Backend("the commits were not flushed".into()))
    }

    /// A flush that panics leaves its commits unflushed, readable and in the log; the
    /// store goes on taking commits, a later flush writes them, and they survive a
    /// reopen.
    #[tokio::test]
    async fn a_flush_that_panics_is_retried_and_loses_nothing() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let path = dir.path().join("store.redb");
        let (shared, store) = opened(&path)?;
        shared.flushes_to_break.store(2, std::sync::atomic::Ordering::SeqCst);
        store.run(|tx| async move { tx.set(b"a", b"1") }).await?;
        for _ in 0..100 {
            if shared.flushes_to_break.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(FLUSH_IDLE).await;
        }
        assert_eq!(shared.flushes_to_break.load(std::sync::atomic::Ordering::SeqCst), 0, "two flushes broke");
        store.run(|tx| async move { tx.set(b"b", b"2") }).await?;
        assert_eq!(store.begin().await?.get(b"a").await?, Some(b"1".to_vec()));
        until_flushed(&shared).await?;
        drop(store);
        drop(shared);
        let store = reopen(&path).await?;
        let tx = store.begin().await?;
        assert_eq!((tx.get(b"a").await?, tx.get(b"b").await?), (Some(b"1".to_vec()), Some(b"2".to_vec())));
        Ok(())
    }

    /// A log writer that panics ends, and no committer waits for it for ever: the
    /// commits it held and every later one fail, the store reports the failure (for
    /// `/readyz`), and a reopened store holds what was acknowledged before.
    #[tokio::test]
    async fn commits_fail_and_none_hangs_when_the_log_writer_panics() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let path = dir.path().join("store.redb");
        let (shared, store) = opened(&path)?;
        store.run(|tx| async move { tx.set(b"a", b"1") }).await?;
        shared.break_log_writer.store(true, std::sync::atomic::Ordering::SeqCst);
        for key in [b"b", b"c"] {
            let commit = store.run(|tx| async move { tx.set(key, b"2") });
            let answer = tokio::time::timeout(Duration::from_secs(10), commit).await;
            assert!(answer.is_ok_and(|answer| answer.is_err()), "an error, in time");
        }
        let failure = store.failure().map(|failure| failure.to_string()).unwrap_or_default();
        assert!(failure.contains("log writer stopped"), "readiness sees it: {failure}");
        drop(store);
        drop(shared);
        let tx = reopen(&path).await?.begin().await?;
        assert_eq!((tx.get(b"a").await?, tx.get(b"b").await?), (Some(b"1".to_vec()), None));
        Ok(())
    }

    /// A store in `dir` holding `a = 1`, flushed into redb.
    async fn with_a_flushed(dir: &Path) -> Result<(Arc<Shared>, Store), StoreError> {
        let (shared, store) = opened(&dir.join("store.redb"))?;
        store.run(|tx| async move { tx.set(b"a", b"1") }).await?;
        until_flushed(&shared).await?;
        Ok((shared, store))
    }

    /// A snapshot opens redb at its first read: if a flush has taken redb past the
    /// snapshot's commits by then, the read is a retryable conflict, never a value
    /// newer than the snapshot.
    #[tokio::test]
    async fn a_first_read_after_a_newer_flush_conflicts() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let (shared, store) = with_a_flushed(dir.path()).await?;
        let old = store.begin().await?;
        store.run(|tx| async move { tx.set(b"a", b"2") }).await?;
        until_flushed(&shared).await?;
        assert_eq!(old.get(b"a").await, Err(StoreError::Conflict));
        assert_eq!(store.begin().await?.get(b"a").await?, Some(b"2".to_vec()));
        Ok(())
    }

    /// Snapshots of one publication share the redb view its first reader opened: one
    /// that first reads after a flush took redb past the publication still reads
    /// its own version (no conflict, no newer value).
    #[tokio::test]
    async fn snapshots_of_one_publication_share_its_redb_view() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let (shared, store) = with_a_flushed(dir.path()).await?;
        let (first, second) = (store.begin().await?, store.begin().await?);
        assert_eq!(first.get(b"a").await?, Some(b"1".to_vec()));
        store.run(|tx| async move { tx.set(b"a", b"2") }).await?;
        until_flushed(&shared).await?;
        assert_eq!(second.get(b"a").await?, Some(b"1".to_vec()));
        assert_eq!(store.begin().await?.get(b"a").await?, Some(b"2".to_vec()));
        Ok(())
    }

    /// When redb falls behind the writers (here a flush every 4 keys, each a durable
    /// redb commit, against 32 writers), committers wait for the flush under way:
    /// the keys waiting for a flush stay within the backlog, plus the one commit
    /// each writer may have had under way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn committers_wait_while_redb_falls_behind() -> Result<(), StoreError> {
        const WRITERS: usize = 32;
        let dir = tempfile::tempdir().map_err(StoreError::backend)?;
        let options = RedbOptions { flush_keys: 4, ..RedbOptions::default() };
        let backend = RedbBackend::open(&dir.path().join("store.redb"), options)?;
        let shared = backend.shared.clone();
        let store = Store::new(backend);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (shared, done) = (shared.clone(), done.clone());
            std::thread::spawn(move || {
                let mut most = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    most = most.max(shared.sequencer().map_or(0, |sequencer| sequencer.unfrozen_len()));
                    std::thread::yield_now();
                }
                most
            })
        };
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..60u8 {
                        store.run(|tx| async move { tx.set(&[writer as u8, n], b"v") }).await?;
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        for writer in writers {
            writer.await.map_err(StoreError::backend)??;
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let most = watcher.join().map_err(|_| StoreError::Backend("the watcher panicked".into()))?;
        assert!(most <= 8 * 4 + WRITERS, "{most} keys waited for a flush");
        let tx = store.begin().await?;
        let all = tx.get_range(&[0], &[255], RangeOptions::default()).await?;
        assert_eq!(all.len(), WRITERS * 60);
        Ok(())
    }
}
