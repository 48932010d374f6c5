//! An entity: the app's own id for one of its end users (`user_123`).

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;

const WHAT: &str = "entity";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    pub project_id: String,
    pub entity_id: String,
    pub created_at: Timestamp,
}

fn record_key(project_id: &str, entity_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("entity", entity_id))
}

pub async fn get(tx: &Tx, project_id: &str, entity_id: &str) -> Result<Option<Entity>, RecordError> {
    if ids::check_app_id(entity_id, "entity id").is_err() {
        return Ok(None);
    }
    get_json(tx, &record_key(project_id, entity_id), WHAT).await
}

/// The entity, created on first sight.
pub async fn ensure(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    now: Timestamp,
) -> Result<Entity, RecordError> {
    ids::check_app_id(entity_id, "entity id")?;
    if let Some(entity) = get(tx, project_id, entity_id).await? {
        return Ok(entity);
    }
    let entity =
        Entity { project_id: project_id.to_owned(), entity_id: entity_id.to_owned(), created_at: now };
    put_json(tx, &record_key(project_id, entity_id), &entity, WHAT)?;
    Ok(entity)
}
