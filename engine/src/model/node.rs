//! Cluster nodes and their leases. A node renews by bumping `renewals`; the others
//! judge liveness on their own monotonic clocks by how long the count has not moved,
//! so wall-clock skew between nodes never decides who is alive.

use serde::{Deserialize, Serialize};

use super::{RecordError, keys, list_json, put_json};
use crate::store::{RangeOptions, Tx};
use crate::util::clock::Timestamp;

const WHAT: &str = "node";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub node_id: String,
    /// Where peers and operators reach it (its public URL).
    pub address: String,
    /// Where peers reach its mesh (`host:port`), when it runs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    /// Bumped on every renewal.
    pub renewals: u64,
    /// The node's own wall clock at the last renewal; for people, not for liveness.
    pub renewed_at: Timestamp,
}

fn key(node_id: &str) -> Vec<u8> {
    keys::index("node").pack(&node_id)
}

/// What a node says of itself when it renews.
pub struct Announce<'a> {
    pub node_id: &'a str,
    pub address: &'a str,
    pub mesh: Option<&'a str>,
}

/// Renews (or first records) a node's lease; answers the new renewal count.
pub async fn renew(tx: &Tx, me: &Announce<'_>, now: Timestamp) -> Result<u64, RecordError> {
    let previous = super::get_json::<Node>(tx, &key(me.node_id), WHAT).await?;
    let renewals = previous.map_or(1, |node| node.renewals + 1);
    let node = Node {
        node_id: me.node_id.to_owned(),
        address: me.address.to_owned(),
        mesh: me.mesh.map(str::to_owned),
        renewals,
        renewed_at: now,
    };
    put_json(tx, &key(me.node_id), &node, WHAT)?;
    Ok(renewals)
}

pub async fn list(tx: &Tx) -> Result<Vec<Node>, RecordError> {
    list_json(tx, keys::index("node").range(), RangeOptions::limit(1000), WHAT).await
}
