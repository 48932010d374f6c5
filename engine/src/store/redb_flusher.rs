//! The redb backend's flusher thread: it writes the layers of unflushed commits the
//! committer froze into redb, in one durable transaction, while the committer goes
//! on committing (see `redb`).

use std::sync::Arc;
use std::sync::mpsc::{self, TryRecvError};

use redb::{Database, Durability};

use super::StoreError;
use super::redb::{KV, LOG_SEQ, META, Shared};
use super::unflushed::{self, Layer};

/// Frozen layers and the last commit-log record they hold.
pub(super) struct FlushJob {
    pub layers: Vec<Arc<Layer>>,
    pub logged: u64,
}

/// The committer's end of the flusher thread; one job at a time.
pub(super) struct Flusher {
    jobs: mpsc::Sender<FlushJob>,
    done: mpsc::Receiver<Result<(), StoreError>>,
}

fn stopped() -> StoreError {
    StoreError::Backend("the redb flusher has stopped".into())
}

impl Flusher {
    pub fn spawn(shared: Arc<Shared>) -> Result<Flusher, StoreError> {
        let (jobs, queue) = mpsc::channel::<FlushJob>();
        let (report, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("securix-redb-flush".into())
            .spawn(move || {
                for job in queue {
                    let _ = report.send(write_layers(&shared.db, &job));
                }
            })
            .map_err(StoreError::backend)?;
        Ok(Flusher { jobs, done })
    }

    pub fn start(&self, job: FlushJob) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| stopped())
    }

    /// How the flush under way ended; `None` if it has not yet (and `wait` is false).
    pub fn finished(&self, wait: bool) -> Option<Result<(), StoreError>> {
        let result = if wait {
            self.done.recv().ok()
        } else {
            match self.done.try_recv() {
                Ok(result) => Some(result),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => None,
            }
        };
        Some(result.unwrap_or_else(|| Err(stopped())))
    }
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
