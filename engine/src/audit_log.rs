//! The token-use audit trail, written off the request path in batches: one
//! transaction carries every record that arrived while the previous one committed
//! (plus a short linger), so a busy proxy costs a handful of durable commits per
//! second instead of one per call. `flush` writes what is queued (at shutdown).

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

async fn write_batches(store: Store, mut receiver: mpsc::Receiver<Message>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while let Some(message) = next.take() {
            match message {
                Message::Record(entry) => batch.push(entry),
                Message::Flush(done) => flushes.push(done),
            }
            if batch.len() >= MAX_BATCH || !flushes.is_empty() {
                break;
            }
            next = tokio::select! {
                message = receiver.recv() => message,
                () = &mut linger => None,
            };
        }
        if !batch.is_empty() {
            write(&store, &batch).await;
        }
        for done in flushes {
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
