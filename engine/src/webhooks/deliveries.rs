//! The delivery log: one record per attempt at one endpoint, newest first per
//! project (`("project", p, "delivery", MAX - at, id)`, with an id index beside
//! it), so an operator can see which webhooks failed, with the receiver's status
//! and how long it took, and send one again.

use serde::{Deserialize, Serialize};

use crate::model::event::{self, OutboxEntry};
use crate::model::page::{self, Page, PageRequest, Step};
use crate::model::{RecordError, decode, get_json, ids, keys, outbox, put_json};
use crate::store::{Subspace, Tx};
use crate::util::clock::{Rfc3339, Timestamp};

const WHAT: &str = "webhook delivery";
/// Pairs a page of the log reads at most when a filter matches little.
const SCAN_BUDGET: usize = 20_000;
/// The longest error text kept from a failed attempt.
const MAX_ERROR: usize = 300;

/// What came of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// It failed and will be tried again at `nextAttemptAt`.
    Pending,
    Delivered,
    /// It failed and will not be tried again (the schedule ran out, or the
    /// receiver answered 410).
    Failed,
}

/// One attempt at one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub id: String,
    pub project_id: String,
    pub event_id: String,
    pub endpoint_id: String,
    /// Which try this was (1 the first).
    pub attempt: u32,
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// Why the attempt failed, when no status says it.
    pub error: Option<String>,
    pub latency_ms: u64,
    pub at: Timestamp,
    pub next_attempt_at: Option<Timestamp>,
}

/// A record as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub delivery_id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub attempt: u32,
    pub status: DeliveryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    pub at: Rfc3339,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Rfc3339>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(r: DeliveryRecord) -> Self {
        DeliveryView {
            delivery_id: r.id,
            event_id: r.event_id,
            endpoint_id: r.endpoint_id,
            attempt: r.attempt,
            status: r.status,
            response_status: r.response_status,
            error: r.error,
            latency_ms: r.latency_ms,
            at: Rfc3339(r.at),
            next_attempt_at: r.next_attempt_at.map(Rfc3339),
        }
    }
}

/// Which records the listing shows.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    pub event_id: Option<String>,
}

fn log_space(project_id: &str) -> Subspace {
    keys::project_space(project_id).subspace(&("delivery",))
}

fn id_key(project_id: &str, id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("delivery_id", id))
}

/// The error text kept: short, on one line.
pub fn error_text(error: &str) -> String {
    let line: String = error.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    line.chars().take(MAX_ERROR).collect()
}

/// Adds a record (its id minted here) to the log.
pub fn append(tx: &Tx, mut record: DeliveryRecord) -> Result<(), RecordError> {
    record.id = ids::mint("dlv");
    let newest_first = i64::MAX - record.at.0;
    put_json(tx, &log_space(&record.project_id).pack(&(newest_first, record.id.as_str())), &record, WHAT)?;
    put_json(tx, &id_key(&record.project_id, &record.id), &newest_first, WHAT)
}

pub async fn get(tx: &Tx, project_id: &str, id: &str) -> Result<Option<DeliveryRecord>, RecordError> {
    if ids::check_minted("dlv", id, "delivery id").is_err() {
        return Ok(None);
    }
    let Some(newest_first) = get_json::<i64>(tx, &id_key(project_id, id), WHAT).await? else {
        return Ok(None);
    };
    get_json(tx, &log_space(project_id).pack(&(newest_first, id)), WHAT).await
}

/// One page of the project's log, newest first, as `filter` picks it.
pub async fn list(
    tx: &Tx,
    project_id: &str,
    filter: &DeliveryFilter,
    request: &PageRequest,
) -> Result<Page<DeliveryRecord>, RecordError> {
    let limit = request.limit()?;
    let space = log_space(project_id);
    let mut items: Vec<DeliveryRecord> = Vec::new();
    let next_cursor = page::scan(
        tx,
        "webhook-deliveries",
        &space,
        space.range(),
        request.cursor.as_deref(),
        SCAN_BUDGET,
        |pair| {
            let record: DeliveryRecord = decode(&pair.value, WHAT)?;
            let shown = filter.endpoint_id.as_ref().is_none_or(|e| *e == record.endpoint_id)
                && filter.event_id.as_ref().is_none_or(|e| *e == record.event_id)
                && filter.status.is_none_or(|s| s == record.status);
            if !shown {
                return Ok(Step::Next);
            }
            if items.len() >= limit {
                return Ok(Step::Full);
            }
            items.push(record);
            Ok(Step::Next)
        },
    )
    .await?;
    Ok(Page { items, next_cursor })
}

/// The project's attempts from `since` on, newest first, at most `limit`.
pub async fn recent(
    tx: &Tx,
    project_id: &str,
    since: Timestamp,
    limit: usize,
) -> Result<Vec<DeliveryRecord>, RecordError> {
    let space = log_space(project_id);
    // Newest first by key: everything up to `since`'s place in the order.
    let (begin, _) = space.range();
    let end = space.pack(&(i64::MAX - since.0 + 1,));
    let pairs = tx.get_range(&begin, &end, crate::store::RangeOptions::limit(limit)).await?;
    pairs.iter().map(|pair| decode(&pair.value, WHAT)).collect()
}

/// Owes the record's event to its endpoint again, due now: added to the event's
/// outbox entry when one is still pending, else a new entry for that endpoint.
pub async fn retry(tx: &Tx, record: &DeliveryRecord, now: Timestamp) -> Result<(), RecordError> {
    let found =
        event::find(tx, &record.project_id, &record.event_id).await?.ok_or(RecordError::NotFound("event"))?;
    let shard_key = found.entity_id.as_deref().or(found.session_id.as_deref()).unwrap_or("");
    let shard = keys::shard_of(&record.project_id, shard_key);
    let entry = match outbox::get(tx, shard, &record.event_id).await? {
        Some(pending) => OutboxEntry {
            due_at: now,
            remaining_endpoints: pending.remaining_endpoints.map(|mut owed| {
                if !owed.contains(&record.endpoint_id) {
                    owed.push(record.endpoint_id.clone());
                }
                owed
            }),
            ..pending
        },
        None => OutboxEntry {
            project_id: record.project_id.clone(),
            event_id: found.id.clone(),
            seq: found.seq,
            attempts: 0,
            due_at: now,
            remaining_endpoints: Some(vec![record.endpoint_id.clone()]),
        },
    };
    outbox::put(tx, shard, &entry).await
}
