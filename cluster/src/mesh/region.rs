//! The region actor: one per node, reachable from peers over the mesh. It runs the
//! shard work a peer hands over (`RegionWork`) on this node's entity and session
//! actors. Frames from peers are decoded defensively: anything malformed is an
//! error answer, never a panic.

use ractor::{Actor, ActorProcessingErr, ActorRef, BytesConvertable, RpcReplyPort};
use ractor_cluster::RactorClusterMessage;
use securix_engine::Engine;
use securix_engine::sharding::region::{RegionWork, RemoteError, RemoteErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;

const GROUP_PREFIX: &str = "securix.region.";

/// The process group a node's region joins; peers find it by the node's id.
pub fn group_of(node_id: &str) -> String {
    format!("{GROUP_PREFIX}{node_id}")
}

/// The node ids whose regions this node knows of (its own included).
pub fn known_regions() -> Vec<String> {
    ractor::pg::which_groups()
        .into_iter()
        .filter_map(|g| g.strip_prefix(GROUP_PREFIX).map(str::to_owned))
        .collect()
}

/// A value as JSON on the wire; `None` when the bytes did not decode.
#[derive(Debug)]
pub struct Frame<T>(pub Option<T>);

impl<T: Serialize + DeserializeOwned + Send + 'static> BytesConvertable for Frame<T> {
    fn into_bytes(self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        Frame(serde_json::from_slice(&bytes).ok().flatten())
    }
}

pub type Answer = Result<(), RemoteError>;

#[derive(RactorClusterMessage)]
pub enum RegionMsg {
    #[rpc]
    Work(Frame<RegionWork>, RpcReplyPort<Frame<Answer>>),
}

pub struct RegionActor;

impl Actor for RegionActor {
    type Msg = RegionMsg;
    type State = Engine;
    type Arguments = (Engine, String);

    async fn pre_start(
        &self,
        myself: ActorRef<RegionMsg>,
        (engine, node_id): (Engine, String),
    ) -> Result<Engine, ActorProcessingErr> {
        ractor::pg::join(group_of(&node_id), vec![myself.get_cell()]);
        Ok(engine)
    }

    async fn handle(
        &self,
        _myself: ActorRef<RegionMsg>,
        message: RegionMsg,
        engine: &mut Engine,
    ) -> Result<(), ActorProcessingErr> {
        let RegionMsg::Work(Frame(work), reply) = message;
        let Some(work) = work else {
            let malformed = RemoteError { kind: RemoteErrorKind::Internal, detail: "malformed work".into() };
            let _ = reply.send(Frame(Some(Err(malformed))));
            return Ok(());
        };
        // A refresh can take seconds: the region only dispatches, the actors serialize.
        let engine = engine.clone();
        tokio::spawn(async move {
            let answer = engine.serve_region(work).await;
            let _ = reply.send(Frame(Some(answer)));
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_from_peers_decode_or_say_they_did_not() {
        let work = RegionWork::PollSession { project_id: "prj_1".into(), session_id: "ses_1".into() };
        let bytes = Frame(Some(work.clone())).into_bytes();
        assert_eq!(Frame::<RegionWork>::from_bytes(bytes).0, Some(work));
        for garbage in [&b""[..], b"\xff\xfe", b"{\"kind\":\"dropTables\"}", b"null"] {
            assert_eq!(Frame::<RegionWork>::from_bytes(garbage.to_vec()).0, None);
        }
    }
}
