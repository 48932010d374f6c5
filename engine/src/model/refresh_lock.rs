//! A connection's cluster-wide refresh lock. Whoever holds it is the one engine
//! (node) refreshing that connection's tokens; the others wait and re-read. It
//! expires, so an engine that dies mid-refresh blocks the connection only briefly.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;

const WHAT: &str = "refresh lock";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshLock {
    holder: String,
    expires_at: Timestamp,
}

fn key(project_id: &str, entity_id: &str, connection_id: &str) -> Vec<u8> {
    keys::entity_space(project_id, entity_id).pack(&("refresh_lock", connection_id))
}

/// Takes the lock for `holder` until `expires_at`, unless another holder's lock is
/// still live. Answers whether `holder` has it.
pub async fn claim(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    connection_id: &str,
    holder: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<bool, RecordError> {
    let key = key(project_id, entity_id, connection_id);
    if let Some(lock) = get_json::<RefreshLock>(tx, &key, WHAT).await?
        && lock.holder != holder
        && lock.expires_at > now
    {
        return Ok(false);
    }
    put_json(tx, &key, &RefreshLock { holder: holder.to_owned(), expires_at }, WHAT)?;
    Ok(true)
}

pub fn release(tx: &Tx, project_id: &str, entity_id: &str, connection_id: &str) -> Result<(), RecordError> {
    tx.clear(&key(project_id, entity_id, connection_id))?;
    Ok(())
}
