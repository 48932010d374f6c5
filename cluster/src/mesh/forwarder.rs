//! Hands shard work to the owner's region over the mesh (the engine's `Forwarder`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use ractor::ActorRef;
use ractor::rpc::CallResult;
use securix_engine::sharding::region::{Forwarder, RegionWork, RemoteError};

use super::region::{Frame, RegionMsg, group_of};
use crate::membership::StorePlacement;

/// How forwarding went, for `/metrics` and the cluster view.
#[derive(Default, Debug)]
pub struct ForwardStats {
    /// Work the owner answered.
    pub forwarded: AtomicU64,
    /// Work that ran here because its owner could not be reached.
    pub unreachable: AtomicU64,
}

pub struct MeshForwarder {
    pub(super) placement: Arc<StorePlacement>,
    pub(super) stats: Arc<ForwardStats>,
}

impl MeshForwarder {
    /// A peer's region, once the mesh has shown it to this node.
    pub(super) fn region_of(node_id: &str) -> Option<ActorRef<RegionMsg>> {
        ractor::pg::get_members(&group_of(node_id))
            .into_iter()
            .find(|cell| !cell.get_id().is_local())
            .map(ActorRef::from)
    }
}

#[async_trait]
impl Forwarder for MeshForwarder {
    async fn forward(&self, work: &RegionWork) -> Option<Result<(), RemoteError>> {
        let owner = self.placement.other_owner(work.shard())?;
        let answer = match Self::region_of(&owner) {
            Some(region) => {
                let patience = work.patience();
                let work = work.clone();
                region.call(|reply| RegionMsg::Work(Frame(Some(work)), reply), Some(patience)).await
            }
            None => Ok(CallResult::SenderError),
        };
        match answer {
            Ok(CallResult::Success(Frame(Some(answer)))) => {
                self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
                Some(answer)
            }
            other => {
                let why = match other {
                    Ok(CallResult::Success(_)) => "a malformed answer",
                    Ok(CallResult::Timeout) => "no answer in time",
                    _ => "not connected",
                };
                tracing::debug!(%owner, why, "the shard's owner is out of reach; working here");
                self.stats.unreachable.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}
