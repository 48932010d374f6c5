//! The node-to-node mesh over `ractor_cluster`: nodes authenticate with the shared
//! cookie (over mutual TLS when configured), each runs one region actor, and a node
//! hands the work of a shard it does not own to the owner's region (see
//! `securix_engine::sharding::region`). The mesh is a transport only: membership, shard
//! ownership and liveness stay in the store — nodes dial the live nodes the store
//! names, plus the seeds — and a peer out of reach only means the work runs where
//! it landed.

mod forwarder;
mod region;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ractor::{Actor, ActorRef};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{IncomingEncryptionMode, NodeServer, NodeServerMessage};
use securix_engine::Engine;
use securix_engine::util::secret::SecretString;
use serde::Serialize;

pub use forwarder::{ForwardStats, MeshForwarder};
pub use tls::TlsFiles;

use crate::membership::{Membership, StorePlacement};

/// How often a node dials the peers it is not connected to.
const REDIAL: Duration = Duration::from_secs(1);

/// The longest a dial may take (a host that drops packets must not stall the others).
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest frame a peer may send: our messages are a few hundred bytes.
const MAX_FRAME: u64 = 1 << 20;

/// API.md's `SECURIX_CLUSTER_*` settings.
#[derive(Debug, Clone)]
pub struct MeshSettings {
    pub node_id: String,
    /// `host:port` peers reach this node on; the node listens on that port.
    pub listen: String,
    /// `host:port` of peers to join through.
    pub seeds: Vec<String>,
    pub cookie: SecretString,
    pub tls: Option<TlsFiles>,
}

pub struct Mesh {
    settings: MeshSettings,
    server: ActorRef<NodeServerMessage>,
    tls: Option<tls::MeshTls>,
    membership: Arc<Membership>,
    stats: Arc<ForwardStats>,
}

/// The mesh as `GET /v1/admin/cluster` shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeshView {
    pub listen: String,
    pub tls: bool,
    /// The nodes whose region this node can hand work to, by node id.
    pub peers: Vec<String>,
    pub forwarded: u64,
    pub unreachable: u64,
}

impl Mesh {
    /// Listens for peers and keeps dialing the seeds and the live nodes.
    pub async fn start(settings: MeshSettings, membership: Arc<Membership>) -> anyhow::Result<Arc<Mesh>> {
        let (host, port) = settings
            .listen
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host.trim_matches(['[', ']']), port.parse::<u16>().ok()?)))
            .context("SECURIX_CLUSTER_LISTEN must be host:port")?;
        let tls = settings.tls.as_ref().map(tls::MeshTls::load).transpose()?;
        let encryption = tls.as_ref().map(|tls| IncomingEncryptionMode::Tls(tls.acceptor.clone()));
        let mut node = NodeServer::new(
            port,
            settings.cookie.expose().to_owned(),
            settings.node_id.clone(),
            host.to_owned(),
            encryption,
            // Peers come from the store and the seeds; ractor's transitive dialing
            // would not speak TLS.
            Some(NodeConnectionMode::Isolated),
        )
        .with_max_inbound_frame_size(MAX_FRAME);
        if let Ok(ip) = host.parse() {
            node = node.with_listen_addr(ip);
        }
        let (server, _) = Actor::spawn(None, node, ()).await.context("cannot start the cluster mesh")?;
        let mesh = Arc::new(Mesh { settings, server, tls, membership, stats: Arc::default() });
        let dialer = mesh.clone();
        tokio::spawn(async move {
            loop {
                dialer.dial_peers().await;
                tokio::time::sleep(REDIAL).await;
            }
        });
        Ok(mesh)
    }

    /// The engine's forwarder, routing by what `placement` last saw.
    pub fn forwarder(&self, placement: Arc<StorePlacement>) -> Arc<MeshForwarder> {
        Arc::new(MeshForwarder { placement, stats: self.stats.clone() })
    }

    /// Starts this node's region, which runs peers' work on `engine`.
    pub async fn serve(&self, engine: Engine) -> anyhow::Result<()> {
        Actor::spawn(None, region::RegionActor, (engine, self.settings.node_id.clone()))
            .await
            .context("cannot start the region actor")?;
        Ok(())
    }

    /// Where the open peer connections lead (authenticated or still handshaking).
    async fn connected_addresses(&self) -> Vec<String> {
        let sessions = ractor::call_t!(self.server, NodeServerMessage::GetSessions, 1000).unwrap_or_default();
        sessions
            .into_values()
            .filter_map(|session| session.peer_name)
            .map(|name| name.connection_string)
            .collect()
    }

    async fn dial_peers(&self) {
        let connected = self.connected_addresses().await;
        let mut targets = self.membership.live_meshes();
        targets.extend(self.settings.seeds.iter().cloned());
        targets.sort();
        targets.dedup();
        for address in targets {
            if address == self.settings.listen || connected.contains(&address) {
                continue;
            }
            let dialed = tokio::time::timeout(DIAL_TIMEOUT, self.dial(&address)).await;
            if let Err(error) = dialed.map_err(anyhow::Error::from).and_then(|dialed| dialed) {
                tracing::debug!(%address, %error, "cannot reach a peer yet");
            }
        }
    }

    async fn dial(&self, address: &str) -> anyhow::Result<()> {
        match &self.tls {
            None => ractor_cluster::client_connect(&self.server, address).await?,
            Some(tls) => {
                let name = tls::MeshTls::server_name(address).context("not a host:port address")?;
                ractor_cluster::client_connect_enc(&self.server, address, tls.connector.clone(), name).await?
            }
        }
        Ok(())
    }

    /// Peers are the nodes whose region this node can hand work to: authenticated,
    /// and their region's membership synchronized over the mesh.
    pub fn view(&self) -> MeshView {
        let mut peers: Vec<String> = region::known_regions()
            .into_iter()
            .filter(|node_id| MeshForwarder::region_of(node_id).is_some())
            .collect();
        peers.sort();
        MeshView {
            listen: self.settings.listen.clone(),
            tls: self.tls.is_some(),
            peers,
            forwarded: self.stats.forwarded.load(std::sync::atomic::Ordering::Relaxed),
            unreachable: self.stats.unreachable.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}
