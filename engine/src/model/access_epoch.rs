//! Counters of what a proxy call relies on, so a node may remember a call's plan
//! and know for sure when it is stale. Every write that could change an answer
//! of the proxy's checks adds one in the same transaction: API keys, agents and
//! integrations to their project's counter, connections to their entity's. A
//! remembered plan is good exactly while both counters read as they did when it
//! was made — on every node, since the counters live in the store.

use super::{RecordError, keys};
use crate::store::{Tx, read_le};

/// The two counters a proxy plan depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessEpoch {
    pub project: i64,
    pub entity: i64,
}

fn project_key(project_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("access_epoch",))
}

fn entity_key(project_id: &str, entity_id: &str) -> Vec<u8> {
    keys::entity_space(project_id, entity_id).pack(&("access_epoch",))
}

/// After a change to a project's API keys, agents or integrations.
pub fn bump_project(tx: &Tx, project_id: &str) -> Result<(), RecordError> {
    Ok(tx.atomic_add(&project_key(project_id), 1)?)
}

/// After a change to one of an entity's connections (tokens, status, deletion).
pub fn bump_entity(tx: &Tx, project_id: &str, entity_id: &str) -> Result<(), RecordError> {
    Ok(tx.atomic_add(&entity_key(project_id, entity_id), 1)?)
}

async fn counter(tx: &Tx, key: &[u8]) -> Result<i64, RecordError> {
    Ok(read_le(tx.get(key).await?.as_deref()))
}

/// After the project's subspace (its counter with it) was cleared in this
/// transaction: the counter comes back above `before`, never at 0, so no node's
/// remembered key or plan of the project reads as current again.
pub fn carry_project_past(tx: &Tx, project_id: &str, before: i64) -> Result<(), RecordError> {
    Ok(tx.atomic_add(&project_key(project_id), before.saturating_add(1))?)
}

pub async fn project(tx: &Tx, project_id: &str) -> Result<i64, RecordError> {
    counter(tx, &project_key(project_id)).await
}

pub async fn read(tx: &Tx, project_id: &str, entity_id: &str) -> Result<AccessEpoch, RecordError> {
    Ok(AccessEpoch {
        project: project(tx, project_id).await?,
        entity: counter(tx, &entity_key(project_id, entity_id)).await?,
    })
}
