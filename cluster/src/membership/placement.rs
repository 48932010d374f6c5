//! The shards this node owns, as the membership loop last saw them: what the
//! engine's actors ask before working, and the fence its owner-only writes check.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

use async_trait::async_trait;
use securix_engine::model::shard_owner;
use securix_engine::sharding::placement::Placement;
use securix_engine::store::Tx;
use securix_engine::{EngineError, EngineResult};

pub struct StorePlacement {
    node_id: String,
    owned: RwLock<Owned>,
}

#[derive(Default)]
struct Owned {
    /// Shard → the epoch this node took it at.
    epochs: HashMap<u32, u64>,
    /// Shard → its owner on record, any node (where the mesh forwards work).
    owners: HashMap<u32, String>,
    /// This node's lease, on its monotonic clock: past it, it owns nothing.
    valid_until: Option<Instant>,
}

impl StorePlacement {
    pub fn new(node_id: &str) -> Self {
        StorePlacement { node_id: node_id.to_owned(), owned: RwLock::default() }
    }

    /// What the membership loop decided.
    pub fn set(&self, epochs: HashMap<u32, u64>, owners: HashMap<u32, String>, valid_until: Instant) {
        if let Ok(mut owned) = self.owned.write() {
            *owned = Owned { epochs, owners, valid_until: Some(valid_until) };
        }
    }

    /// The shards this node holds now, in order.
    pub fn owned_shards(&self) -> Vec<u32> {
        (0..securix_engine::model::keys::SHARDS).filter(|s| self.owns(*s)).collect()
    }

    /// The node that owns `shard` when it is another one, as last seen.
    pub fn other_owner(&self, shard: u32) -> Option<String> {
        if self.owns(shard) {
            return None;
        }
        let owned = self.owned.read().ok()?;
        owned.owners.get(&shard).filter(|node| **node != self.node_id).cloned()
    }

    /// Drops a shard at once, before its handoff commits.
    pub fn drop_shard(&self, shard: u32) {
        if let Ok(mut owned) = self.owned.write() {
            owned.epochs.remove(&shard);
        }
    }

    fn epoch(&self, shard: u32) -> Option<u64> {
        let owned = self.owned.read().ok()?;
        owned.valid_until.filter(|until| Instant::now() < *until)?;
        owned.epochs.get(&shard).copied()
    }
}

#[async_trait]
impl Placement for StorePlacement {
    fn owns(&self, shard: u32) -> bool {
        self.epoch(shard).is_some()
    }

    async fn fence(&self, tx: &Tx, shard: u32) -> EngineResult<()> {
        let held = self.epoch(shard);
        let current = shard_owner::get(tx, shard).await?;
        match (held, current) {
            (Some(epoch), Some(owner)) if owner.node_id == self.node_id && owner.epoch == epoch => Ok(()),
            _ => Err(EngineError::Conflict(format!("node {} no longer owns shard {shard}", self.node_id))),
        }
    }
}
