//! The token-use audit trail, written off the request path in batches: one
//! transaction carries every record that arrived while the previous one committed
//! (plus a short linger), so a busy proxy costs a handful of durable commits per
//! second instead of one per call, and a wake-up of the writer per batch, not per
//! call. `flush` writes what is queued (at shutdown).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::model::audit::{self, AuditRecord};
use crate::store::Store;

/// Records waiting beyond this make callers wait (backpressure, nothing dropped).
const QUEUE: usize = 16_384;
/// Records per transaction, well inside the store's 10 MB limit.
const MAX_BATCH: usize = 1024;
/// How long a batch waits for company after its first record.
const LINGER: Duration = Duration::from_millis(5);

pub(crate) struct Entry {
    pub project_id: String,
    pub entity_id: String,
    pub record: AuditRecord,
}

enum Message {
    Record(Entry),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub(crate) struct AuditLog {
    sender: mpsc::Sender<Message>,
}

impl AuditLog {
    /// Starts the writer task; it ends when every `AuditLog` clone is dropped.
    pub fn start(store: Store) -> (AuditLog, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        (AuditLog { sender }, tokio::spawn(write_batches(store, receiver)))
    }

    pub async fn append(&self, entry: Entry) {
        if self.sender.send(Message::Record(entry)).await.is_err() {
            tracing::error!("the audit writer has stopped: a token use went unrecorded");
        }
    }

    /// Waits until every record appended before this call is committed.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

/// What one transaction writes, and the flushes waiting for it.
#[derive(Default)]
struct Batch {
    records: Vec<Entry>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn take(&mut self, message: Message) {
        match message {
            Message::Record(entry) => self.records.push(entry),
            Message::Flush(done) => self.flushes.push(done),
        }
    }

    /// Full, or awaited by a flush: to be written now.
    fn is_due(&self) -> bool {
        self.records.len() >= MAX_BATCH || !self.flushes.is_empty()
    }
}

async fn write_batches(store: Store, mut receiver: mpsc::Receiver<Message>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = Batch::default();
        batch.take(first);
        if !batch.is_due() {
            // Sleeping, rather than waiting on the channel, lets the records of the
            // linger queue up without waking this task (and its thread) for each.
            tokio::time::sleep(LINGER).await;
        }
        while !batch.is_due()
            && let Ok(message) = receiver.try_recv()
        {
            batch.take(message);
        }
        if !batch.records.is_empty() {
            write(&store, &batch.records).await;
        }
        for done in batch.flushes {
            let _ = done.send(());
        }
    }
}

async fn write(store: &Store, batch: &[Entry]) {
    let written = store
        .run(|tx| async move {
            for entry in batch {
                audit::append(&tx, &entry.project_id, &entry.entity_id, &entry.record)?;
            }
            Ok::<_, crate::model::RecordError>(())
        })
        .await;
    if let Err(error) = written {
        tracing::error!(%error, records = batch.len(), "writing audit records failed");
    }
}
