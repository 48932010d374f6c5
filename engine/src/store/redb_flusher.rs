//! The redb backend's flusher thread: it writes the layers of unflushed commits the
//! sequencer froze into redb, in one durable transaction, while commits go on (see
//! `redb`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;

use redb::{Database, Durability};

use super::StoreError;
use super::redb::{KV, LOG_SEQ, META, Shared};
use super::unflushed::{self, Layer};

/// Frozen layers and the last commit-log record they hold.
pub(super) struct FlushJob {
    pub layers: Vec<Arc<Layer>>,
    pub logged: u64,
}

/// Starts the flusher thread; jobs go in through the sender (the log writer's, which
/// starts a flush only once every record it holds is durable). How each ended goes
/// to the sequencer, and committers waiting for it are woken.
pub(super) fn spawn(shared: Arc<Shared>) -> Result<mpsc::Sender<FlushJob>, StoreError> {
    let (jobs, queue) = mpsc::channel::<FlushJob>();
    std::thread::Builder::new()
        .name("securix-redb-flush".into())
        .spawn(move || {
            // Flushing is background work: the threads of the commit path come first.
            if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
                tracing::debug!(%error, "could not lower the redb flusher's priority");
            }
            for job in queue {
                // A panic in redb must not end the thread: the flush would stay frozen
                // and committers would wait for it for ever.
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    #[cfg(test)]
                    break_if_asked(&shared);
                    write_layers(&shared.db, &job)
                }))
                .unwrap_or_else(|_| Err(StoreError::Backend("flushing into redb panicked".into())));
                drop(job);
                match shared.sequencer() {
                    Ok(mut sequencer) => sequencer.finish_flush(&shared, result),
                    Err(error) => tracing::error!(%error, "could not take in a flush"),
                }
                shared.flushed.notify_waiters();
            }
        })
        .map_err(StoreError::backend)?;
    Ok(jobs)
}

fn write_layers(db: &Database, job: &FlushJob) -> Result<(), StoreError> {
    let mut write = db.begin_write().map_err(StoreError::backend)?;
    write.set_durability(Durability::Immediate).map_err(StoreError::backend)?;
    {
        let mut table = write.open_table(KV).map_err(StoreError::backend)?;
        for (key, value) in unflushed::newest_of(&job.layers) {
            match value {
                Some(value) => table.insert(key, value).map(drop),
                None => table.remove(key).map(drop),
            }
            .map_err(StoreError::backend)?;
        }
        let mut meta = write.open_table(META).map_err(StoreError::backend)?;
        meta.insert(LOG_SEQ, job.logged).map_err(StoreError::backend)?;
    }
    write.commit().map_err(StoreError::backend)
}

/// Tests: a panic where redb could panic, while `flushes_to_break` says so.
#[cfg(test)]
fn break_if_asked(shared: &Shared) {
    use std::sync::atomic::Ordering;
    let take_one = |left: usize| left.checked_sub(1);
    if shared.flushes_to_break.fetch_update(Ordering::SeqCst, Ordering::SeqCst, take_one).is_ok() {
        panic!("a flush broken on purpose");
    }
}
