//! A shard's webhook outbox. Entries live by event id (`("outbox", shard,
//! event_id)`); a due-time index beside them (`("outbox_due", shard, project,
//! due_ms, event_id)`) lets a delivery round read only what is due, oldest first,
//! a bounded number per project, so one project's backlog never hides another's.
//!
//! Every write of an entry goes through here and keeps the two in step.

use crate::model::event::OutboxEntry;
use crate::model::{RecordError, get_json, keys, put_json};
use crate::store::{RangeOptions, Subspace, Tx};
use crate::util::clock::Timestamp;

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

/// An event's entry, if it is still owed.
pub async fn get(tx: &Tx, shard: u32, event_id: &str) -> Result<Option<OutboxEntry>, RecordError> {
    get_json(tx, &entry_key(shard, event_id), WHAT).await
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
/// of each from at most `projects` projects with something due, leaving out the
/// projects `skip` names. Projects are visited in key order from just after
/// `start_after`, wrapping around, so a round that stops early does not always
/// favour the same ones; returns the last project visited, for the next round.
pub async fn due(
    tx: &Tx,
    shard: u32,
    now: Timestamp,
    per_project: usize,
    projects: usize,
    start_after: Option<&str>,
    skip: impl Fn(&str) -> bool,
) -> Result<(Vec<OutboxEntry>, Option<String>), RecordError> {
    let space = due_space(shard);
    let (begin, end) = space.range();
    let mut from = match start_after {
        Some(project) => space.subspace(&(project,)).range().1,
        None => begin.clone(),
    };
    let (mut due, mut with_due, mut last) = (Vec::new(), 0, None);
    let mut wrapped = start_after.is_none();
    // Visits are bounded too: a project with nothing due yet costs one read.
    for _ in 0..projects.saturating_mul(4) {
        if with_due >= projects {
            break;
        }
        let Some(first) = tx.get_range(&from, &end, RangeOptions::limit(1)).await?.pop() else {
            if wrapped {
                break;
            }
            wrapped = true;
            from = begin.clone();
            continue;
        };
        let (project, _, _): (String, i64, String) = space
            .unpack(&first.key)
            .map_err(|e| RecordError::Corrupt { what: WHAT, detail: e.to_string() })?;
        if wrapped && start_after.is_some_and(|start| project.as_str() > start) {
            break; // Back where this round began.
        }
        let project_space = space.subspace(&(project.as_str(),));
        from = project_space.range().1;
        last = Some(project.clone());
        if skip(&project) {
            continue;
        }
        // Due means due_ms <= now: the range ends before (now + 1).
        let (begin_project, _) = project_space.range();
        let due_end = project_space.pack(&(now.0.saturating_add(1),));
        let pairs = tx.get_range(&begin_project, &due_end, RangeOptions::limit(per_project)).await?;
        if !pairs.is_empty() {
            with_due += 1;
        }
        for pair in pairs {
            let (_, event_id): (i64, String) = project_space
                .unpack(&pair.key)
                .map_err(|e| RecordError::Corrupt { what: WHAT, detail: e.to_string() })?;
            if let Some(entry) = get(tx, shard, &event_id).await? {
                due.push(entry);
            }
        }
    }
    Ok((due, last))
}

/// Indexes up to `batch` entries written before the due index existed, from the
/// key `from` on (`None`: the start). Returns where to go on, or `None` once the
/// shard is fully indexed (recorded, so later starts skip the scan).
pub async fn index_older_entries(
    tx: &Tx,
    shard: u32,
    from: Option<Vec<u8>>,
    batch: usize,
) -> Result<Option<Vec<u8>>, RecordError> {
    if tx.get(&indexed_marker(shard)).await?.is_some() {
        return Ok(None);
    }
    let (begin, end) = keys::outbox(shard).range();
    let from = from.unwrap_or(begin);
    let page = tx.get_range(&from, &end, RangeOptions::limit(batch)).await?;
    for pair in &page {
        let entry: OutboxEntry = crate::model::decode(&pair.value, WHAT)?;
        tx.set(&due_key(shard, &entry), b"")?;
    }
    match page.last() {
        Some(last) if page.len() == batch => {
            let mut next = last.key.clone();
            next.push(0);
            Ok(Some(next))
        }
        _ => {
            tx.set(&indexed_marker(shard), b"")?;
            Ok(None)
        }
    }
}

/// How many entries a shard holds (for tests and benchmarks).
pub async fn len(tx: &Tx, shard: u32) -> Result<usize, RecordError> {
    let (begin, end) = keys::outbox(shard).range();
    Ok(tx.get_range(&begin, &end, RangeOptions::default()).await?.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn entry(project: &str, event: &str, due_at: i64) -> OutboxEntry {
        OutboxEntry {
            project_id: project.into(),
            event_id: event.into(),
            seq: 1,
            attempts: 0,
            due_at: Timestamp(due_at),
            remaining_endpoints: None,
        }
    }

    async fn projects_due(store: &Store, start_after: Option<&str>) -> (Vec<String>, Option<String>) {
        let tx = store.begin().await.unwrap();
        let (entries, last) = due(&tx, 0, Timestamp(100), 16, 1, start_after, |_| false).await.unwrap();
        (entries.into_iter().map(|e| e.project_id).collect(), last)
    }

    #[tokio::test]
    async fn rounds_take_turns_and_projects_with_nothing_due_take_no_turn() {
        let store = Store::memory();
        store
            .run(|tx| async move {
                insert(&tx, 0, &entry("prj_a", "evt_a", 500))?; // due later
                insert(&tx, 0, &entry("prj_b", "evt_b", 10))?;
                insert(&tx, 0, &entry("prj_c", "evt_c", 20))?;
                // Moved to later: its old place in the index goes with it.
                put(&tx, 0, &entry("prj_c", "evt_c", 30)).await
            })
            .await
            .unwrap();
        let (first, last) = projects_due(&store, None).await;
        assert_eq!(first, ["prj_b"], "prj_a, first in order, has nothing due and takes no turn");
        let (second, last) = projects_due(&store, last.as_deref()).await;
        assert_eq!(second, ["prj_c"]);
        let (third, _) = projects_due(&store, last.as_deref()).await;
        assert_eq!(third, ["prj_b"], "wrapped around");
        store.run(|tx| async move { clear(&tx, 0, "evt_b").await }).await.unwrap();
        let (fourth, _) = projects_due(&store, None).await;
        assert_eq!(fourth, ["prj_c"]);
    }
}
