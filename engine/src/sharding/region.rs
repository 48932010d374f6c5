//! Shard work that runs where its shard is owned. In a cluster with a mesh, a node
//! that does not own an entity's or a session's shard hands the work that its actor
//! serializes (bringing a token up to date, a device-flow poll) to the owner's
//! region, so one actor per entity and per session runs cluster-wide: the owner's
//! session actor sees every poll (the `slow_down` interval holds across nodes) and
//! the owner's entity actor every refresh. Without a forwarder, or when the owner
//! cannot be reached, the work runs here: every record write is a serializable
//! store transaction and a refresh takes a lock record, so running it here is safe,
//! only less coordinated.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, EngineResult, InternalError};
use crate::http_client::HttpError;
use crate::model::keys;

/// Work a region runs for a peer. No secret travels: the requester reads the
/// refreshed token from the store itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum RegionWork {
    /// Bring a connection's access token up to date (refreshing it if it is due).
    FreshToken { project_id: String, entity_id: String, connection_id: String },
    /// A short poll of a device session.
    PollSession { project_id: String, session_id: String },
}

impl RegionWork {
    /// How long a requester waits for the owner before working here instead. The
    /// mesh notices a dead peer only when its connection closes; a hung one would
    /// otherwise hold the request for as long as the work may take.
    pub fn patience(&self) -> Duration {
        match self {
            // A refresh waits on the provider (the plugin host's fetch timeout).
            RegionWork::FreshToken { .. } => Duration::from_secs(35),
            // A poll is a few milliseconds of work.
            RegionWork::PollSession { .. } => Duration::from_secs(2),
        }
    }

    pub fn shard(&self) -> u32 {
        match self {
            RegionWork::FreshToken { project_id, entity_id, .. } => keys::shard_of(project_id, entity_id),
            RegionWork::PollSession { project_id, session_id } => keys::shard_of(project_id, session_id),
        }
    }
}

/// An engine error as it crosses the wire: its kind, and its text (which never
/// carries a secret — see `EngineError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteError {
    pub kind: RemoteErrorKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RemoteErrorKind {
    NotFound,
    Expired,
    SlowDown { interval: u32 },
    ReauthRequired,
    Conflict,
    Upstream,
    UpstreamTimeout,
    RefreshBusy,
    Internal,
}

impl From<EngineError> for RemoteError {
    fn from(error: EngineError) -> Self {
        let kind = match &error {
            EngineError::NotFound(_) => RemoteErrorKind::NotFound,
            EngineError::Expired(_) => RemoteErrorKind::Expired,
            EngineError::SlowDown { interval } => RemoteErrorKind::SlowDown { interval: *interval },
            EngineError::ReauthRequired => RemoteErrorKind::ReauthRequired,
            EngineError::Conflict(_) => RemoteErrorKind::Conflict,
            EngineError::Upstream(HttpError::Timeout) => RemoteErrorKind::UpstreamTimeout,
            EngineError::Provider(_) | EngineError::Upstream(_) => RemoteErrorKind::Upstream,
            EngineError::RefreshBusy => RemoteErrorKind::RefreshBusy,
            _ => RemoteErrorKind::Internal,
        };
        RemoteError { kind, detail: error.to_string() }
    }
}

impl RemoteError {
    /// The engine error the requester answers with; `noun` names what the work was about.
    fn into_engine_error(self, noun: &'static str) -> EngineError {
        match self.kind {
            RemoteErrorKind::NotFound => EngineError::NotFound(noun),
            RemoteErrorKind::Expired => EngineError::Expired(noun),
            RemoteErrorKind::SlowDown { interval } => EngineError::SlowDown { interval },
            RemoteErrorKind::ReauthRequired => EngineError::ReauthRequired,
            RemoteErrorKind::Conflict => EngineError::Conflict(self.detail),
            RemoteErrorKind::Upstream => EngineError::Upstream(HttpError::BrokenOff(self.detail.into())),
            RemoteErrorKind::UpstreamTimeout => EngineError::Upstream(HttpError::Timeout),
            RemoteErrorKind::RefreshBusy => EngineError::RefreshBusy,
            RemoteErrorKind::Internal => InternalError::Remote(self.detail).into(),
        }
    }
}

/// Hands work to the node that owns its shard; the cluster's mesh implements it.
#[async_trait]
pub trait Forwarder: Send + Sync + 'static {
    /// The owner's answer, or `None` when the work should run here: this node owns
    /// the shard, no owner is known, or the owner cannot be reached.
    async fn forward(&self, work: &RegionWork) -> Option<Result<(), RemoteError>>;
}

/// The requester's side: a room that runs shard work hands it to the owner
/// through this first. Without a forwarder (embedded, or a cluster without a
/// mesh) everything runs here.
#[derive(Clone, Default)]
pub(crate) struct Forwarding(Option<Arc<dyn Forwarder>>);

impl Forwarding {
    pub fn new(forwarder: Option<Arc<dyn Forwarder>>) -> Self {
        Forwarding(forwarder)
    }

    /// Runs `work` on its shard's owner when that is another reachable node.
    /// `Ok(false)`: it must run here.
    pub async fn forwarded(&self, work: RegionWork, noun: &'static str) -> EngineResult<bool> {
        let Some(forwarder) = &self.0 else { return Ok(false) };
        match forwarder.forward(&work).await {
            None => Ok(false),
            Some(answer) => answer.map(|()| true).map_err(|error| error.into_engine_error(noun)),
        }
    }
}

/// The owner's side: runs what a peer handed over on this node's actors. The
/// engine implements it by handing each kind of work to the room that owns it;
/// the cluster's region actor calls it (as `Engine::serve_region`).
#[async_trait]
pub trait RegionServer: Send + Sync + 'static {
    async fn serve(&self, work: RegionWork) -> Result<(), RemoteError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_kind_across_the_wire() {
        let slow: RemoteError = EngineError::SlowDown { interval: 10 }.into();
        let wire = serde_json::to_vec(&slow).unwrap_or_default();
        let back: RemoteError = serde_json::from_slice(&wire).unwrap_or_else(|_| slow.clone());
        assert!(matches!(back.into_engine_error("session"), EngineError::SlowDown { interval: 10 }));
        let gone: RemoteError = EngineError::NotFound("connection").into();
        assert!(matches!(gone.into_engine_error("connection"), EngineError::NotFound("connection")));
        let reauth: RemoteError = EngineError::ReauthRequired.into();
        assert!(matches!(reauth.into_engine_error("connection"), EngineError::ReauthRequired));
    }
}
