//! Which node runs which actor. Keys map to a fixed number of shards; a placement
//! says which shards this node owns. For now one node owns them all; the cluster
//! plugs in its own placement without changing the actors.

use async_trait::async_trait;

use crate::error::EngineResult;
use crate::model::keys::SHARDS;
use crate::store::Tx;

#[async_trait]
pub trait Placement: Send + Sync + 'static {
    /// Whether this node owns `shard`.
    fn owns(&self, shard: u32) -> bool;

    /// Inside `tx`, checks that this node still owns `shard` at the epoch it took
    /// it with, so the commit fails if the shard changed hands meanwhile. A single
    /// node always owns every shard.
    async fn fence(&self, _tx: &Tx, _shard: u32) -> EngineResult<()> {
        Ok(())
    }
}

/// The embedded default: this node owns every shard.
#[derive(Debug, Default, Clone, Copy)]
pub struct SingleNode;

#[async_trait]
impl Placement for SingleNode {
    fn owns(&self, shard: u32) -> bool {
        shard < SHARDS
    }
}
