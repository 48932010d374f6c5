//! The audit trail: one record for every use of an entity's tokens — which agent
//! used which connection, when, for which host — listable per entity, newest first.

use serde::{Deserialize, Serialize};

use super::{RecordError, ids, keys, put_json};
use crate::clock::Timestamp;
use crate::store::{RangeOptions, Tx};

const WHAT: &str = "audit record";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub at: Timestamp,
    pub agent_id: String,
    pub connection_id: String,
    pub integration: String,
    pub method: String,
    pub host: String,
}

fn space(project_id: &str, entity_id: &str) -> crate::store::Subspace {
    keys::entity_space(project_id, entity_id).subspace(&("audit",))
}

pub fn append(tx: &Tx, project_id: &str, entity_id: &str, record: &AuditRecord) -> Result<(), RecordError> {
    // The random part keeps two uses in the same millisecond apart.
    let key = space(project_id, entity_id).pack(&(record.at.0, ids::mint("aud")));
    put_json(tx, &key, record, WHAT)
}

pub async fn list(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    limit: usize,
) -> Result<Vec<AuditRecord>, RecordError> {
    ids::check_app_id(entity_id, "entity id")?;
    super::list_json(tx, space(project_id, entity_id).range(), RangeOptions::limit(limit).reversed(), WHAT)
        .await
}
