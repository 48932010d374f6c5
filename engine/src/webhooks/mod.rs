//! Webhooks: Standard Webhooks with the asymmetric (`v1a`, ed25519) scheme, from a
//! durable outbox, at least once.
//!
//! - `signing`: the signature format and `verify` (from `securix-client`).
//! - `keyring.rs`: the signing keys, sealed by the vault; rotation signs with old
//!   and new side by side until the old one is retired.
//! - `endpoints.rs`: where a project wants its events.
//! - `delivery.rs`: the rounds that deliver the due outbox entries of the shards
//!   this node owns, and what an attempt's outcome does to the entry.
//! - `dispatch.rs`: the bounds on deliveries at once (overall, per endpoint) and
//!   each endpoint's circuit.
//!
//! `Webhooks` is the room; its delivery actors hold it weakly, as their
//! `ShardDispatcher`.

pub mod deliveries;
pub mod delivery;
pub mod dispatch;
pub mod endpoints;
pub mod keyring;

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::actors::{Outboxes, ShardDispatcher};
use crate::error::EngineResult;
use crate::http_client::HttpClient;
use crate::policy::OutboundPolicy;
use crate::sharding::placement::Placement;
use crate::store::Store;
use crate::util::clock::{Clock, Timestamp};
use crate::vault::Vault;

/// Signing and verification live in the client crate, so apps verify with the
/// very code SecuriX signs with.
pub use securix_client::webhooks as signing;

/// The settings deliveries read.
#[derive(Debug, Clone)]
pub(crate) struct DeliverySettings {
    /// The wait after each failed attempt.
    pub schedule: Vec<Duration>,
    /// How often the outbox is polled.
    pub poll: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
}

/// The room that delivers webhooks and keeps their endpoints and signing keys.
pub(crate) struct Webhooks {
    store: Store,
    /// Seals the signing keys.
    vault: Vault,
    clock: Arc<dyn Clock>,
    /// Which shards' outboxes this node drains, and the fence on its writes to them.
    placement: Arc<dyn Placement>,
    http: HttpClient,
    /// What an endpoint's URL may name.
    outbound: OutboundPolicy,
    /// How many deliveries run at once, and each endpoint's circuit.
    dispatcher: dispatch::Dispatcher,
    settings: DeliverySettings,
    outboxes: Outboxes,
}

impl Webhooks {
    pub fn new(
        store: Store,
        vault: Vault,
        clock: Arc<dyn Clock>,
        placement: Arc<dyn Placement>,
        http: HttpClient,
        outbound: OutboundPolicy,
        settings: DeliverySettings,
    ) -> Arc<Webhooks> {
        // Its actors get a weak handle: a strong one would loop through their registry.
        Arc::new_cyclic(|me: &Weak<Webhooks>| {
            let dispatcher: Weak<dyn ShardDispatcher> = me.clone();
            Webhooks {
                store,
                vault,
                clock,
                placement,
                http,
                outbound,
                dispatcher: dispatch::Dispatcher::default(),
                settings,
                outboxes: Outboxes::new(dispatcher),
            }
        })
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Records, once per store, when signing keys became per project (see `keyring`).
    pub async fn mark_keys_per_project(&self) -> EngineResult<()> {
        let now = self.now();
        Ok(self.store.run(|tx| async move { keyring::mark_per_project(&tx, now).await }).await?)
    }

    pub fn stop_actors(&self) {
        self.outboxes.stop_all();
    }
}
