//! Cluster membership and shard ownership, kept in the shared store.
//!
//! Every `lease / 4` each node renews its lease (a counter in its node record), reads
//! every node and shard owner, and judges a node alive while its counter keeps
//! moving on *this* node's monotonic clock. Each shard's rightful owner is the live
//! node with the highest rendezvous hash for it, so joins and leaves move only the
//! shards they must. A node hands over a shard it should no longer own (dropping it
//! locally first) and claims one whose owner is dead or gone; every change bumps the
//! shard's epoch, and owner-only writes check that epoch (`Placement::fence`).
//! A node whose own renewal lapsed owns nothing until it renews again.
//!
//! The store is the source of truth for membership, so nodes need no side channel
//! to agree; they meet only through it.

pub mod placement;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use securix_engine::model::keys::SHARDS;
use securix_engine::model::{RecordError, node, shard_owner};
use securix_engine::store::Store;
use securix_engine::util::clock::{Clock, Rfc3339, SystemClock};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use placement::StorePlacement;

/// Who this node is in the cluster.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    pub node_id: String,
    pub address: String,
    /// Where peers reach this node's mesh, when it runs one.
    pub mesh: Option<String>,
    pub lease: Duration,
}

/// The loop's memory: when each node's renewal count last moved, on our clock.
struct Liveness {
    seen: HashMap<String, (u64, Instant)>,
}

pub struct Membership {
    settings: NodeSettings,
    store: Store,
    placement: Arc<StorePlacement>,
    liveness: Mutex<Liveness>,
    /// The mesh addresses of the other live nodes, as the last round saw them.
    live_meshes: Mutex<Vec<String>>,
}

/// `GET /v1/admin/cluster`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    pub node_id: String,
    pub lease_ms: u64,
    pub nodes: Vec<NodeView>,
    #[schema(value_type = Vec<crate::api::views::ShardOwner>)]
    pub shards: Vec<shard_owner::ShardOwner>,
    /// The shards this node holds and works on now (the records may be ahead of it
    /// for up to a membership round).
    pub owned: Vec<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    pub node_id: String,
    pub address: String,
    pub renewals: u64,
    #[schema(value_type = String, format = DateTime)]
    pub renewed_at: Rfc3339,
    /// Alive as this node judges it.
    pub live: bool,
    pub shards: usize,
}

impl Membership {
    pub fn new(settings: NodeSettings, store: Store) -> Arc<Membership> {
        let placement = Arc::new(StorePlacement::new(&settings.node_id));
        Arc::new(Membership {
            settings,
            store,
            placement,
            liveness: Mutex::new(Liveness { seen: HashMap::new() }),
            live_meshes: Mutex::default(),
        })
    }

    pub fn placement(&self) -> Arc<StorePlacement> {
        self.placement.clone()
    }

    /// Where the mesh reaches the other live nodes.
    pub fn live_meshes(&self) -> Vec<String> {
        self.live_meshes.lock().map(|meshes| meshes.clone()).unwrap_or_default()
    }

    /// Runs the loop on the current runtime until the process ends.
    pub fn start(self: &Arc<Self>) {
        let membership = self.clone();
        tokio::spawn(async move {
            let every = membership.settings.lease / 4;
            loop {
                if let Err(error) = membership.tick().await {
                    tracing::warn!(%error, "membership round failed");
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    /// One round: renew, look, hand over, claim.
    pub async fn tick(&self) -> Result<(), RecordError> {
        let started = Instant::now();
        let me = self.settings.node_id.as_str();
        let now = SystemClock.now();
        let announce = node::Announce {
            node_id: me,
            address: &self.settings.address,
            mesh: self.settings.mesh.as_deref(),
        };
        let announce = &announce;
        self.store.run(|tx| async move { node::renew(&tx, announce, now).await }).await?;
        let lease_until = started + self.settings.lease;

        let tx = self.store.begin().await?;
        let (nodes, owners) = (node::list(&tx).await?, shard_owner::list(&tx).await?);
        drop(tx);
        let live = self.observe(&nodes);
        if let Ok(mut meshes) = self.live_meshes.lock() {
            *meshes = nodes
                .iter()
                .filter(|n| n.node_id != me && live.contains(&n.node_id.as_str()))
                .filter_map(|n| n.mesh.clone())
                .collect();
        }
        let owners: HashMap<u32, shard_owner::ShardOwner> =
            owners.into_iter().map(|o| (o.shard, o)).collect();

        let mut handoffs = Vec::new();
        let mut claims = Vec::new();
        for shard in 0..SHARDS {
            let Some(rightful) = rendezvous(shard, &live) else { continue };
            match owners.get(&shard) {
                Some(owner) if owner.node_id == me && rightful != me => {
                    handoffs.push((shard, rightful.to_owned()))
                }
                Some(owner) if owner.node_id == me => {}
                Some(owner) if rightful == me && !live.contains(&owner.node_id.as_str()) => {
                    claims.push(shard)
                }
                None if rightful == me => claims.push(shard),
                _ => {}
            }
        }
        // Stop working on a shard before anyone else may start.
        for (shard, _) in &handoffs {
            self.placement.drop_shard(*shard);
        }
        // What we keep, plus what we manage to claim.
        let mut epochs: HashMap<u32, u64> = owners
            .values()
            .filter(|o| o.node_id == me && !handoffs.iter().any(|(shard, _)| *shard == o.shard))
            .map(|o| (o.shard, o.epoch))
            .collect();
        if !handoffs.is_empty() || !claims.is_empty() {
            let claimed = self
                .store
                .run(|tx| {
                    let (handoffs, claims, owners) = (&handoffs, &claims, &owners);
                    async move {
                        for (shard, to) in handoffs {
                            let current = shard_owner::get(&tx, *shard).await?;
                            // Only what is still ours is ours to give.
                            if current.as_ref().is_some_and(|o| o.node_id == me) {
                                shard_owner::assign(&tx, *shard, to, current.as_ref())?;
                            }
                        }
                        let mut claimed = Vec::new();
                        for shard in claims {
                            // Claimed only as we judged it: unowned, or still the dead owner's.
                            let current = shard_owner::get(&tx, *shard).await?;
                            if current.as_ref() == owners.get(shard) {
                                claimed
                                    .push((*shard, shard_owner::assign(&tx, *shard, me, current.as_ref())?));
                            }
                        }
                        Ok::<_, RecordError>(claimed)
                    }
                })
                .await?;
            epochs.extend(claimed);
        }
        if Instant::now() < lease_until {
            let mut on_record: HashMap<u32, String> =
                owners.into_iter().map(|(shard, owner)| (shard, owner.node_id)).collect();
            on_record.extend(handoffs);
            on_record.extend(epochs.keys().map(|shard| (*shard, me.to_owned())));
            self.placement.set(epochs, on_record, lease_until);
        }
        Ok(())
    }

    /// Updates when each node's count last moved; answers the live ones, this node
    /// included (its renewal just committed).
    fn observe<'a>(&self, nodes: &'a [node::Node]) -> Vec<&'a str> {
        let Ok(mut liveness) = self.liveness.lock() else { return Vec::new() };
        let now = Instant::now();
        let lease = self.settings.lease;
        let mut live = Vec::new();
        for node in nodes {
            let entry = liveness.seen.entry(node.node_id.clone()).or_insert((node.renewals, now));
            if entry.0 != node.renewals {
                *entry = (node.renewals, now);
            }
            if node.node_id == self.settings.node_id || now.duration_since(entry.1) < lease {
                live.push(node.node_id.as_str());
            }
        }
        live
    }

    pub async fn view(&self) -> Result<ClusterView, RecordError> {
        let tx = self.store.begin().await?;
        let (nodes, shards) = (node::list(&tx).await?, shard_owner::list(&tx).await?);
        let live = self.observe(&nodes);
        let nodes = nodes
            .iter()
            .map(|n| NodeView {
                node_id: n.node_id.clone(),
                address: n.address.clone(),
                renewals: n.renewals,
                renewed_at: Rfc3339(n.renewed_at),
                live: live.contains(&n.node_id.as_str()),
                shards: shards.iter().filter(|s| s.node_id == n.node_id).count(),
            })
            .collect();
        Ok(ClusterView {
            node_id: self.settings.node_id.clone(),
            lease_ms: self.settings.lease.as_millis() as u64,
            nodes,
            shards,
            owned: self.placement.owned_shards(),
        })
    }
}

/// The live node with the highest hash of (node, shard): stable, and a join or a
/// leave moves only the shards that node wins or held.
fn rendezvous<'a>(shard: u32, live: &[&'a str]) -> Option<&'a str> {
    live.iter()
        .map(|node| {
            let digest =
                Sha256::new().chain_update(node.as_bytes()).chain_update(shard.to_be_bytes()).finalize();
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            (u64::from_be_bytes(first), *node)
        })
        .max()
        .map(|(_, node)| node)
}

#[cfg(test)]
mod tests;
