//! Which node runs which actor. Keys map to a fixed number of shards; a placement
//! says which shards this node owns. For now one node owns them all; the cluster
//! plugs in its own placement without changing the actors.

use crate::model::keys::{SHARDS, shard_of};

pub trait Placement: Send + Sync + 'static {
    /// Whether this node owns `shard`.
    fn owns(&self, shard: u32) -> bool;

    /// Whether this node runs the entity's actor.
    fn owns_entity(&self, project_id: &str, entity_id: &str) -> bool {
        self.owns(shard_of(project_id, entity_id))
    }
}

/// The embedded default: this node owns every shard.
#[derive(Debug, Default, Clone, Copy)]
pub struct SingleNode;

impl Placement for SingleNode {
    fn owns(&self, shard: u32) -> bool {
        shard < SHARDS
    }
}
