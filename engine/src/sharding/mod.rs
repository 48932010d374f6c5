//! Where work runs: keys map to shards, each shard to its owner node
//! (`placement`), and work for a shard another node owns is handed to it
//! (`region`). Leases and ownership records live in `model::node` and
//! `model::shard_owner`; the cluster crate renews them.

pub mod placement;
pub mod region;
