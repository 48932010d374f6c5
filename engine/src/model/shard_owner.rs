//! Which node owns each shard, with an epoch that grows on every change of hands.
//! A write that must come from the owner reads its shard's record in the same
//! transaction (see `Placement::fence`), so a node that lost the shard cannot commit.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, keys, list_json, put_json};
use crate::store::{RangeOptions, Tx};

const WHAT: &str = "shard owner";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardOwner {
    pub shard: u32,
    pub node_id: String,
    pub epoch: u64,
}

fn key(shard: u32) -> Vec<u8> {
    keys::index("shard_owner").pack(&shard)
}

pub async fn get(tx: &Tx, shard: u32) -> Result<Option<ShardOwner>, RecordError> {
    get_json(tx, &key(shard), WHAT).await
}

/// Hands `shard` to `node_id` with the next epoch; answers that epoch.
pub fn assign(tx: &Tx, shard: u32, node_id: &str, previous: Option<&ShardOwner>) -> Result<u64, RecordError> {
    let epoch = previous.map_or(1, |owner| owner.epoch + 1);
    put_json(tx, &key(shard), &ShardOwner { shard, node_id: node_id.to_owned(), epoch }, WHAT)?;
    Ok(epoch)
}

pub async fn list(tx: &Tx) -> Result<Vec<ShardOwner>, RecordError> {
    list_json(tx, keys::index("shard_owner").range(), RangeOptions::limit(10_000), WHAT).await
}
