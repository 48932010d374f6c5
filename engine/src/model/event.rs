//! Events: what happened to a project's sessions and connections. `append` writes
//! the event to the project's log and to its shard's webhook outbox in the caller's
//! transaction, so an event exists exactly when the state change that caused it does.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::{RangeOptions, Tx};
use crate::util::clock::Timestamp;

const WHAT: &str = "event";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "session.completed")]
    SessionCompleted,
    #[serde(rename = "session.expired")]
    SessionExpired,
    #[serde(rename = "session.denied")]
    SessionDenied,
    #[serde(rename = "session.failed")]
    SessionFailed,
    #[serde(rename = "connection.created")]
    ConnectionCreated,
    #[serde(rename = "connection.updated")]
    ConnectionUpdated,
    #[serde(rename = "connection.refreshed")]
    ConnectionRefreshed,
    #[serde(rename = "connection.reauth_required")]
    ConnectionReauthRequired,
    #[serde(rename = "connection.revoked")]
    ConnectionRevoked,
    #[serde(rename = "endpoint.disabled")]
    EndpointDisabled,
}

/// A thin event: ids, type, status and time, never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    pub project_id: String,
    /// Position in the project's log, from 1.
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub created_at: Timestamp,
}

/// What a state change says happened.
#[derive(Debug, Clone, Default)]
pub struct EventDraft {
    pub entity_id: Option<String>,
    pub session_id: Option<String>,
    pub connection_id: Option<String>,
    pub status: Option<String>,
}

/// A webhook delivery owed for an event, in its shard's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    pub project_id: String,
    pub event_id: String,
    pub seq: u64,
    pub attempts: u32,
    pub due_at: Timestamp,
    /// After a first attempt: the endpoints still owed this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_endpoints: Option<Vec<String>>,
}

fn log_key(project_id: &str, seq: u64) -> Vec<u8> {
    keys::project_space(project_id).pack(&("event", seq))
}

fn id_index_key(project_id: &str, event_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("event_id", event_id))
}

fn counter_key(project_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("event_seq",))
}

/// Records an event in the caller's transaction: the log, the id index and the outbox.
pub async fn append(
    tx: &Tx,
    project_id: &str,
    kind: EventKind,
    draft: EventDraft,
    now: Timestamp,
) -> Result<Event, RecordError> {
    let counter = counter_key(project_id);
    let seq = get_json::<u64>(tx, &counter, WHAT).await?.unwrap_or(0) + 1;
    put_json(tx, &counter, &seq, WHAT)?;
    let event = Event {
        id: ids::mint("evt"),
        project_id: project_id.to_owned(),
        seq,
        kind,
        entity_id: draft.entity_id,
        session_id: draft.session_id,
        connection_id: draft.connection_id,
        status: draft.status,
        created_at: now,
    };
    put_json(tx, &log_key(project_id, seq), &event, WHAT)?;
    put_json(tx, &id_index_key(project_id, &event.id), &seq, WHAT)?;
    let shard_key = event.entity_id.as_deref().or(event.session_id.as_deref()).unwrap_or("");
    let shard = keys::shard_of(project_id, shard_key);
    let entry = OutboxEntry {
        project_id: project_id.to_owned(),
        event_id: event.id.clone(),
        seq,
        attempts: 0,
        due_at: now,
        remaining_endpoints: None,
    };
    super::outbox::insert(tx, shard, &entry)?;
    Ok(event)
}

/// Queues an existing event for delivery again (to every endpoint that wants it).
pub async fn requeue(tx: &Tx, event: &Event, now: Timestamp) -> Result<(), RecordError> {
    let shard_key = event.entity_id.as_deref().or(event.session_id.as_deref()).unwrap_or("");
    let shard = keys::shard_of(&event.project_id, shard_key);
    let entry = OutboxEntry {
        project_id: event.project_id.clone(),
        event_id: event.id.clone(),
        seq: event.seq,
        attempts: 0,
        due_at: now,
        remaining_endpoints: None,
    };
    super::outbox::put(tx, shard, &entry).await
}

/// One event by its id.
pub async fn find(tx: &Tx, project_id: &str, event_id: &str) -> Result<Option<Event>, RecordError> {
    if ids::check_minted("evt", event_id, "event id").is_err() {
        return Ok(None);
    }
    match get_json::<u64>(tx, &id_index_key(project_id, event_id), WHAT).await? {
        Some(seq) => get(tx, project_id, seq).await,
        None => Ok(None),
    }
}

/// One event by its position in the project's log.
pub async fn get(tx: &Tx, project_id: &str, seq: u64) -> Result<Option<Event>, RecordError> {
    get_json(tx, &log_key(project_id, seq), WHAT).await
}

/// The project's events after `after` (an event id; `None` = from the start), oldest first.
/// The project's events from `since` on, newest first, at most `limit`.
pub async fn recent(
    tx: &Tx,
    project_id: &str,
    since: Timestamp,
    limit: usize,
) -> Result<Vec<Event>, RecordError> {
    let (begin, end) = keys::project_space(project_id).subspace(&("event",)).range();
    let mut newest_first = Vec::new();
    let mut end = end;
    while newest_first.len() < limit {
        let batch = tx
            .get_range(&begin, &end, RangeOptions::limit(256.min(limit - newest_first.len())).reversed())
            .await?;
        let Some(oldest) = batch.last() else { break };
        end = oldest.key.clone();
        for pair in &batch {
            let event: Event = super::decode(&pair.value, WHAT)?;
            if event.created_at < since {
                return Ok(newest_first);
            }
            newest_first.push(event);
        }
    }
    Ok(newest_first)
}

pub async fn list(
    tx: &Tx,
    project_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Event>, RecordError> {
    let start_seq = match after {
        None => 0,
        Some(event_id) => {
            ids::check_minted("evt", event_id, "event id")?;
            get_json::<u64>(tx, &id_index_key(project_id, event_id), WHAT)
                .await?
                .ok_or(RecordError::NotFound(WHAT))?
        }
    };
    let begin = log_key(project_id, start_seq + 1);
    let (_, end) = keys::project_space(project_id).subspace(&("event",)).range();
    super::list_json(tx, (begin, end), RangeOptions::limit(limit), WHAT).await
}
