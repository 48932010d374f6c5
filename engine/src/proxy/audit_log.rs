//! The token-use audit trail, written off the request path in batches: one
//! transaction carries every record that arrived while the previous one committed
//! (plus a short linger), so a busy proxy costs a handful of durable commits per
//! second instead of one per call, a wake-up of the writer per batch, not per
//! call, and a stored value per entity and batch (`model::audit`'s runs). `flush`
//! writes what is queued (at shutdown).

use std::sync::Arc;
use std::time::Duration;

use hashbrown::HashMap;
use tokio::sync::{mpsc, oneshot};

use crate::model::audit::{self, AuditRecord};
use crate::store::Store;
use crate::util::clock::Timestamp;

/// Records waiting beyond this make callers wait (backpressure, nothing dropped).
const QUEUE: usize = 16_384;
/// Records per transaction, well inside the store's 10 MB limit.
const MAX_BATCH: usize = 1024;
/// How long a batch waits for company after its first record. Each commit costs
/// an fsync, which on a virtual machine takes a good part of a millisecond of the
/// CPU the proxy serves on: 25 ms keeps a busy proxy to ~40 commits a second
/// (about `MAX_BATCH` records each at 40,000 calls a second; 5 ms cost 5 % of its
/// throughput). A crash loses the records of the linger under way, as it would
/// lose those of any shorter one.
const LINGER: Duration = Duration::from_millis(25);

/// Who uses whose token, through which connection, at which host: what every
/// call of one proxy plan records alike, shared by its entries.
#[derive(Debug)]
pub(crate) struct Caller {
    pub project_id: String,
    pub entity_id: String,
    pub agent_id: String,
    pub connection_id: String,
    pub integration: String,
    pub host: String,
}

/// One token use.
pub(crate) struct Entry {
    pub at: Timestamp,
    pub method: hyper::Method,
    /// How many times the call was sent again (`proxy::retry`).
    pub retries: u32,
    /// The provider's answer status; `0` when none arrived.
    pub status: u16,
    pub caller: Arc<Caller>,
}

impl Entry {
    fn record(&self) -> AuditRecord<&str> {
        let caller = &*self.caller;
        AuditRecord {
            at: self.at,
            agent_id: &caller.agent_id,
            connection_id: &caller.connection_id,
            integration: &caller.integration,
            method: self.method.as_str(),
            retries: self.retries,
            host: &caller.host,
            status: Some(self.status),
        }
    }
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

    /// Takes what is queued until the batch is due.
    fn take_queued(&mut self, receiver: &mut mpsc::Receiver<Message>) {
        while !self.is_due()
            && let Ok(message) = receiver.try_recv()
        {
            self.take(message);
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
        batch.take_queued(&mut receiver);
        if !batch.is_due() {
            // Sleeping, rather than waiting on the channel, lets the records of the
            // linger queue up without waking this task (and its thread) for each.
            // A backlog is written without it.
            tokio::time::sleep(LINGER).await;
            batch.take_queued(&mut receiver);
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
    let runs = &runs_by_entity(batch);
    let written = store
        .run(|tx| async move {
            for ((project_id, entity_id), records) in runs {
                audit::append(&tx, project_id, entity_id, records.iter().cloned())?;
            }
            Ok::<_, crate::model::RecordError>(())
        })
        .await;
    if let Err(error) = written {
        tracing::error!(%error, records = batch.len(), "writing audit records failed");
    }
}

/// A project and one of its entities.
type Entity<'a> = (&'a str, &'a str);

/// The batch's records by project and entity, each entity's oldest first.
fn runs_by_entity(batch: &[Entry]) -> Vec<(Entity<'_>, Vec<AuditRecord<&str>>)> {
    let mut runs: HashMap<Entity<'_>, Vec<AuditRecord<&str>>> = HashMap::new();
    for entry in batch {
        let entity = (entry.caller.project_id.as_str(), entry.caller.entity_id.as_str());
        runs.entry(entity).or_default().push(entry.record());
    }
    let mut runs: Vec<_> = runs.into_iter().collect();
    for (_, records) in &mut runs {
        records.sort_by_key(|record| record.at);
    }
    runs
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{AuditLog, Caller, Entry, LINGER, MAX_BATCH, runs_by_entity};
    use crate::store::Store;
    use crate::util::clock::Timestamp;

    fn entry(entity: &str, at: i64) -> Entry {
        let caller = Caller {
            project_id: "prj_1".into(),
            entity_id: entity.into(),
            agent_id: "cli".into(),
            connection_id: "con_1".into(),
            integration: "github".into(),
            host: "api.github.com".into(),
        };
        Entry {
            at: Timestamp(at),
            method: hyper::Method::GET,
            retries: 0,
            status: 200,
            caller: Arc::new(caller),
        }
    }

    #[test]
    fn a_batch_becomes_one_run_per_entity_oldest_first() {
        let batch = [entry("a", 3), entry("b", 1), entry("a", 1), entry("a", 2)];
        let mut runs: Vec<_> = runs_by_entity(&batch)
            .into_iter()
            .map(|((_, entity), records)| (entity, records.iter().map(|r| r.at.0).collect::<Vec<_>>()))
            .collect();
        runs.sort();
        assert_eq!(runs, [("a", vec![1, 2, 3]), ("b", vec![1])]);
    }

    /// Only a batch that could wait for company lingers: a queue of several batches'
    /// worth is written batch after batch (a linger each would cap the records
    /// written a second at `MAX_BATCH` per linger).
    #[tokio::test(start_paused = true)]
    async fn a_backlog_is_written_without_lingering_between_batches() {
        let store = Store::memory();
        let (log, _writer) = AuditLog::start(store.clone());
        let started = tokio::time::Instant::now();
        for at in 0..4 * MAX_BATCH {
            log.append(entry("a", at as i64)).await;
        }
        log.flush().await;
        let took = started.elapsed();
        assert!(took < 2 * LINGER, "4 batches took {took:?}, the linger is {LINGER:?}");
        let tx = store.begin().await.unwrap();
        let listed = crate::model::audit::list(&tx, "prj_1", "a", 5000).await.unwrap();
        assert_eq!(listed.len(), 4 * MAX_BATCH);
    }
}
