//! When each connection is due for renewal, in time order per shard: each node's
//! background refresher reads what is due in the shards it owns and renews it
//! before any call needs it (an OAuth or `jwt` token ahead of its expiry; a
//! credential its entry re-checks, at its next check). Every write of an active
//! connection adds its entry; an entry the connection has moved past (renewed,
//! deleted) is found stale when read and cleared then.

use serde::{Deserialize, Serialize};

use super::connection::{Connection, ConnectionStatus};
use super::{RecordError, keys};
use crate::store::{RangeOptions, Tx};
use crate::util::clock::Timestamp;

/// When a token issued at `issued_at` that expires at `expires_at` is due: a tenth of
/// its life before it lapses (5 s to 5 min, at most half of it).
pub fn due_at(issued_at: Timestamp, expires_at: Timestamp) -> Timestamp {
    let lifetime = (expires_at.0 - issued_at.0).max(0);
    let margin = (lifetime / 10).clamp(5_000, 300_000).min(lifetime / 2);
    Timestamp(expires_at.0 - margin)
}

/// One due renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub at: Timestamp,
    pub project_id: String,
    pub entity_id: String,
    pub connection_id: String,
    pub state: DueState,
}

/// What an entry carries besides its key: whose token endpoint a renewal calls
/// (renewals are bounded per integration), and how long it has been failing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DueState {
    #[serde(default)]
    pub integration: String,
    /// When the provider first failed this renewal for now, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Due {
    /// The integration's renewals share a bound: one OAuth client, one rate limit.
    pub fn integration_key(&self) -> (String, String) {
        (self.project_id.clone(), self.state.integration.clone())
    }
}

fn shard_space(shard: u32) -> crate::store::Subspace {
    keys::index("refresh_due").subspace(&(shard,))
}

fn key(due: &Due) -> Vec<u8> {
    let shard = keys::shard_of(&due.project_id, &due.entity_id);
    shard_space(shard).pack(&(due.at.0, &due.project_id, &due.entity_id, &due.connection_id))
}

/// Adds an active connection's renewal: when its token falls due, less a share of a
/// tenth of its margin drawn from its id, so tokens issued in one burst are not all
/// renewed in the same second; else at its credentials' next check, if any.
pub fn schedule(tx: &Tx, connection: &Connection) -> Result<(), RecordError> {
    if connection.status != ConnectionStatus::Active {
        return Ok(());
    }
    let Some(expires_at) = connection.expires_at else {
        return match connection.recheck_at {
            Some(at) => put(tx, &Due::of(connection, at)),
            None => Ok(()),
        };
    };
    let at = due_at(connection.refreshed_at, expires_at);
    let share =
        connection.id.bytes().fold(0u64, |sum, b| sum.wrapping_mul(31).wrapping_add(u64::from(b))) % 1000;
    let spread = (expires_at.0 - at.0).max(0) / 10 * share as i64 / 1000;
    put(tx, &Due::of(connection, Timestamp(at.0 - spread)))
}

impl Due {
    fn of(connection: &Connection, at: Timestamp) -> Due {
        Due {
            at,
            project_id: connection.project_id.clone(),
            entity_id: connection.entity_id.clone(),
            connection_id: connection.id.clone(),
            state: DueState { integration: connection.integration.clone(), ..DueState::default() },
        }
    }
}

/// Adds a renewal at `due.at` (a retry after a provider's temporary failure).
pub fn put(tx: &Tx, due: &Due) -> Result<(), RecordError> {
    let state = serde_json::to_vec(&due.state)
        .map_err(|e| RecordError::Corrupt { what: "refresh schedule", detail: e.to_string() })?;
    tx.set(&key(due), &state)?;
    Ok(())
}

/// The shard's renewals due at or before `now`, oldest first.
pub async fn due(tx: &Tx, shard: u32, now: Timestamp, limit: usize) -> Result<Vec<Due>, RecordError> {
    let space = shard_space(shard);
    let (begin, _) = space.range();
    let end = space.pack(&(now.0.saturating_add(1),));
    let pairs = tx.get_range(&begin, &end, RangeOptions::limit(limit)).await?;
    Ok(pairs
        .iter()
        .filter_map(|pair| {
            let (at, project_id, entity_id, connection_id) =
                space.unpack::<(i64, String, String, String)>(&pair.key).ok()?;
            // An entry written before it carried a state renews with none.
            let state = serde_json::from_slice(&pair.value).unwrap_or_default();
            Some(Due { at: Timestamp(at), project_id, entity_id, connection_id, state })
        })
        .collect())
}

pub fn clear(tx: &Tx, due: &Due) -> Result<(), RecordError> {
    tx.clear(&key(due))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_due_a_tenth_of_its_life_early_within_bounds() {
        let issued = Timestamp(0);
        assert_eq!(due_at(issued, Timestamp(3_600_000)), Timestamp(3_300_000), "5 min before an hour's end");
        assert_eq!(due_at(issued, Timestamp(60_000)), Timestamp(54_000));
        assert_eq!(due_at(issued, Timestamp(20_000)), Timestamp(15_000), "at least 5 s before");
        assert_eq!(due_at(issued, Timestamp(2_000)), Timestamp(1_000), "at most half a short life");
    }
}
