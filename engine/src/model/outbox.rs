//! A shard's webhook outbox. Entries live by event id (`("outbox", shard,
//! event_id)`); a due-time index beside them (`("outbox_due", shard, project,
//! due_ms, event_id)`) lets a delivery round read only what is due, oldest first,
//! a bounded number per project, so one project's backlog never hides another's.
//!
//! Every write of an entry goes through here and keeps the two in step.

use crate::clock::Timestamp;
use crate::model::event::OutboxEntry;
use crate::model::{RecordError, get_json, keys, put_json};
use crate::store::{RangeOptions, Subspace, Tx};

const WHAT: &str = "outbox entry";

fn entry_key(shard: u32, event_id: &str) -> Vec<u8> {
    keys::outbox(shard).pack(&(event_id,))
}

fn due_space(shard: u32) -> Subspace {
    Subspace::all().subspace(&("outbox_due", shard))
}

fn due_key(shard: u32, entry: &OutboxEntry) -> Vec<u8> {
    due_space(shard).pack(&(entry.project_id.as_str(), entry.due_at.0, entry.event_id.as_str()))
}

/// Marks a shard whose entries from before the due index have been indexed.
fn indexed_marker(shard: u32) -> Vec<u8> {
    keys::index("outbox_indexed").pack(&(shard,))
}

/// Writes the entry of a new event (none can exist for it yet).
pub fn insert(tx: &Tx, shard: u32, entry: &OutboxEntry) -> Result<(), RecordError> {
    put_json(tx, &entry_key(shard, &entry.event_id), entry, WHAT)?;
    tx.set(&due_key(shard, entry), b"")?;
    Ok(())
}

/// Writes `entry`, replacing the one of the same event (and its place in the index).
pub async fn put(tx: &Tx, shard: u32, entry: &OutboxEntry) -> Result<(), RecordError> {
    let key = entry_key(shard, &entry.event_id);
    if let Some(previous) = get_json::<OutboxEntry>(tx, &key, WHAT).await? {
        tx.clear(&due_key(shard, &previous))?;
    }
    put_json(tx, &key, entry, WHAT)?;
    tx.set(&due_key(shard, entry), b"")?;
    Ok(())
}

/// Removes an event's entry and its place in the index.
pub async fn clear(tx: &Tx, shard: u32, event_id: &str) -> Result<(), RecordError> {
    let key = entry_key(shard, event_id);
    if let Some(previous) = get_json::<OutboxEntry>(tx, &key, WHAT).await? {
        tx.clear(&due_key(shard, &previous))?;
    }
    tx.clear(&key)?;
    Ok(())
}

/// Entries due by `now`, oldest first within each project, at most `per_project`
/// of each and `projects` projects (in project order), leaving out the projects
/// `skip` names.
pub async fn due(
    tx: &Tx,
    shard: u32,
    now: Timestamp,
    per_project: usize,
    projects: usize,
    skip: impl Fn(&str) -> bool,
) -> Result<Vec<OutboxEntry>, RecordError> {
    let space = due_space(shard);
    let (mut from, end) = space.range();
    let mut due = Vec::new();
    for _ in 0..projects {
        // The next project with anything queued: one key.
        let Some(first) = tx.get_range(&from, &end, RangeOptions::limit(1)).await?.pop() else { break };
        let (project, _, _): (String, i64, String) = space
            .unpack(&first.key)
            .map_err(|e| RecordError::Corrupt { what: WHAT, detail: e.to_string() })?;
        let project_space = space.subspace(&(project.as_str(),));
        let (begin, project_end) = project_space.range();
        if skip(&project) {
            from = project_end;
            continue;
        }
        // Due means due_ms <= now: the range ends before (now + 1).
        let due_end = project_space.pack(&(now.0.saturating_add(1),));
        for pair in tx.get_range(&begin, &due_end, RangeOptions::limit(per_project)).await? {
            let (_, event_id): (i64, String) = project_space
                .unpack(&pair.key)
                .map_err(|e| RecordError::Corrupt { what: WHAT, detail: e.to_string() })?;
            if let Some(entry) = get_json::<OutboxEntry>(tx, &entry_key(shard, &event_id), WHAT).await? {
                due.push(entry);
            }
        }
        from = project_end;
    }
    Ok(due)
}

/// Indexes, a batch at a time, entries written before the due index existed.
/// Returns whether the shard is fully indexed.
pub async fn index_older_entries(tx: &Tx, shard: u32, batch: usize) -> Result<bool, RecordError> {
    if tx.get(&indexed_marker(shard)).await?.is_some() {
        return Ok(true);
    }
    let (begin, end) = keys::outbox(shard).range();
    let mut from = begin;
    let mut indexed = 0;
    loop {
        let page = tx.get_range(&from, &end, RangeOptions::limit(256)).await?;
        let Some(last) = page.last() else { break };
        let mut next = last.key.clone();
        next.push(0);
        for pair in &page {
            let entry: OutboxEntry = crate::model::decode(&pair.value, WHAT)?;
            let key = due_key(shard, &entry);
            if tx.get(&key).await?.is_none() {
                tx.set(&key, b"")?;
                indexed += 1;
            }
        }
        from = next;
        if indexed >= batch {
            return Ok(false);
        }
    }
    tx.set(&indexed_marker(shard), b"")?;
    Ok(true)
}

/// How many entries a shard holds (for tests and benchmarks).
pub async fn len(tx: &Tx, shard: u32) -> Result<usize, RecordError> {
    let (begin, end) = keys::outbox(shard).range();
    Ok(tx.get_range(&begin, &end, RangeOptions::default()).await?.len())
}
