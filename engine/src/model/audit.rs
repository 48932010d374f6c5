//! The audit trail: one record for every use of an entity's tokens — which agent
//! used which connection, when, for which host — listable per entity, newest first.
//!
//! Records are stored in runs: the records of one entity that one batch of the
//! audit log writes share a value (up to `RUN_BYTES` of JSON, in `audit_run`'s
//! format), so a busy proxy writes a key per entity and batch, not one per call. A
//! run's key is its first record's time, then a number that rises within the
//! process (runs of the same millisecond keep their order), then a random id (other
//! nodes' runs never collide with it). Each run is also indexed per project, newest
//! first (`("project", p, "audit_index", MAX - first_at, n, id)` → the entity), for
//! the operator's project-wide listing.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::audit_run::{self, RunWriter};
use super::{RecordError, ids, keys};
use crate::store::{RangeOptions, Subspace, Tx};
use crate::util::clock::Timestamp;

/// The most JSON one run holds: well inside FoundationDB's 100 kB values.
const RUN_BYTES: usize = 64 << 10;
/// The most runs read at a time when listing.
const RUNS_PER_READ: usize = 16;

/// Orders the runs this process writes.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// A record as read (`AuditRecord`), or as written from borrowed parts
/// (`AuditRecord<&str>`: the audit log writes a batch without copying a string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord<S = String> {
    pub at: Timestamp,
    pub agent_id: S,
    pub connection_id: S,
    pub integration: S,
    pub method: S,
    /// How many times the call was sent again after the provider asked to slow down.
    #[serde(default)]
    pub retries: u32,
    pub host: S,
    /// The provider's answer status, `0` when none arrived (unreachable, timed out);
    /// `None` for records written before statuses were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl<S> AuditRecord<S> {
    /// The provider answered with an error (4xx, 5xx) or not at all.
    pub fn failed(&self) -> bool {
        self.status.is_some_and(|status| status == 0 || status >= 400)
    }
}

fn space(project_id: &str, entity_id: &str) -> Subspace {
    keys::entity_space(project_id, entity_id).subspace(&("audit",))
}

/// Appends one entity's `records`, oldest first, as one run or, past `RUN_BYTES`,
/// several.
pub fn append<'a>(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    records: impl IntoIterator<Item = AuditRecord<&'a str>>,
) -> Result<(), RecordError> {
    let mut run = RunWriter::new();
    for record in records {
        if !run.push(&record, RUN_BYTES)? {
            write_run(tx, project_id, entity_id, &mut run)?;
            run.push(&record, RUN_BYTES)?;
        }
    }
    if !run.is_empty() {
        write_run(tx, project_id, entity_id, &mut run)?;
    }
    Ok(())
}

/// The project's runs, newest first: each key names a run, its value the entity.
pub fn project_index(project_id: &str) -> Subspace {
    keys::project_space(project_id).subspace(&("audit_index",))
}

/// Stores what `run` holds and empties it.
fn write_run(tx: &Tx, project_id: &str, entity_id: &str, run: &mut RunWriter<'_>) -> Result<(), RecordError> {
    let (first_at, json) = run.take();
    let (n, id) = (RUNS.fetch_add(1, Ordering::Relaxed), ids::mint("aud"));
    tx.set(&space(project_id, entity_id).pack(&(first_at.0, n, id.as_str())), &json)?;
    tx.set(&project_index(project_id).pack(&(i64::MAX - first_at.0, n, id.as_str())), entity_id.as_bytes())?;
    Ok(())
}

/// The records of the run an entry of `project_index` names, newest first.
pub async fn run_of(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    index_key: &[u8],
) -> Result<Vec<AuditRecord>, RecordError> {
    let (newest_first, n, id) = project_index(project_id)
        .unpack::<(i64, u64, String)>(index_key)
        .map_err(|e| RecordError::Corrupt { what: "audit index", detail: e.to_string() })?;
    let key = space(project_id, entity_id).pack(&(i64::MAX - newest_first, n, id.as_str()));
    let Some(json) = tx.get(&key).await? else { return Ok(Vec::new()) };
    Ok(audit_run::decode(&json)?.into_iter().rev().collect())
}

/// The entity's newest `limit` records, newest first.
pub async fn list(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    limit: usize,
) -> Result<Vec<AuditRecord>, RecordError> {
    ids::check_app_id(entity_id, "entity id")?;
    let (begin, mut end) = space(project_id, entity_id).range();
    let mut newest_first = Vec::new();
    while newest_first.len() < limit {
        // A run holds at least one record: no more runs than records still wanted.
        let wanted = (limit - newest_first.len()).min(RUNS_PER_READ);
        let runs = tx.get_range(&begin, &end, RangeOptions::limit(wanted).reversed()).await?;
        let Some(oldest) = runs.last() else { break };
        end = oldest.key.clone();
        for run in &runs {
            newest_first.extend(audit_run::decode(&run.value)?.into_iter().rev());
        }
    }
    newest_first.truncate(limit);
    Ok(newest_first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn record(at: i64, agent: &str) -> AuditRecord {
        AuditRecord {
            at: Timestamp(at),
            agent_id: agent.into(),
            connection_id: "con_1".into(),
            integration: "github".into(),
            method: "GET".into(),
            retries: 0,
            host: "api.github.com".into(),
            status: Some(200),
        }
    }

    fn borrowed(record: &AuditRecord) -> AuditRecord<&str> {
        AuditRecord {
            at: record.at,
            agent_id: &record.agent_id,
            connection_id: &record.connection_id,
            integration: &record.integration,
            method: &record.method,
            retries: record.retries,
            host: &record.host,
            status: record.status,
        }
    }

    async fn listed(store: &Store, limit: usize) -> Vec<(i64, String)> {
        let tx = store.begin().await.unwrap();
        let records = list(&tx, "prj_1", "user_1", limit).await.unwrap();
        records.into_iter().map(|r| (r.at.0, r.agent_id)).collect()
    }

    /// Runs of the same millisecond, a run past `RUN_BYTES` and a record stored on
    /// its own (before runs) list newest first, within the limit.
    #[tokio::test]
    async fn runs_list_newest_first_within_the_limit() {
        let store = Store::memory();
        let tx = store.begin().await.unwrap();
        let old = space("prj_1", "user_1").pack(&(5i64, ids::mint("aud")));
        crate::model::put_json(&tx, &old, &record(5, "single"), "audit record").unwrap();
        tx.commit().await.unwrap();
        let big: Vec<_> = (0..1000).map(|n| record(20, &format!("big-{n:04}"))).collect();
        let mut runs = vec![vec![record(10, "a"), record(10, "b")]];
        runs.extend(["c", "d", "e", "f", "g"].map(|agent| vec![record(10, agent)]));
        runs.push(big);
        for run in runs {
            store
                .run(|tx| {
                    let run = run.clone();
                    async move { append(&tx, "prj_1", "user_1", run.iter().map(borrowed)) }
                })
                .await
                .unwrap();
        }
        let tx = store.begin().await.unwrap();
        let (begin, end) = space("prj_1", "user_1").range();
        let stored = tx.get_range(&begin, &end, RangeOptions::default()).await.unwrap();
        assert!(stored.len() >= 9, "1000 records take more than one run: {} values", stored.len());
        assert!(stored.iter().all(|run| run.value.len() <= RUN_BYTES));

        let all = listed(&store, 2000).await;
        assert_eq!(all.len(), 1008);
        let expected_head: Vec<_> = (0..1000).rev().map(|n| (20, format!("big-{n:04}"))).collect();
        assert_eq!(all[..1000], expected_head[..]);
        let tail: Vec<_> = all[1000..].iter().map(|(at, agent)| (*at, agent.as_str())).collect();
        let same_millisecond = ["g", "f", "e", "d", "c", "b", "a"].map(|agent| (10, agent));
        assert_eq!(tail[..7], same_millisecond, "runs of one millisecond keep their order");
        assert_eq!(tail[7], (5, "single"));
        assert_eq!(listed(&store, 3).await, all[..3]);
        assert_eq!(listed(&store, 1003).await, all[..1003]);
    }
}
