//! The auth flows: sessions (`sessions.rs`), what the end-user pages drive
//! (`consent.rs`), the popup's `sxc` confirmation (`confirm.rs`), and the device
//! code pieces. `Flows` is the room: it keeps the sessions, and its session
//! actors hold it weakly, as their `SessionExpirer`.

pub mod confirm;
pub mod consent;
pub mod device_code;
pub mod device_guard;
mod grant_params;
pub mod import;
pub mod oauth;
mod on_demand;
pub mod sessions;
pub mod views;

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::actors::{SessionExpirer, Sessions};
use crate::error::EngineResult;
use crate::providers::Providers;
use crate::sharding::region::Forwarding;
use crate::store::Store;
use crate::util::clock::{Clock, Timestamp};
use crate::vault::Vault;
use device_guard::DeviceGuard;

/// The settings the flows read.
#[derive(Debug, Clone)]
pub(crate) struct FlowSettings {
    /// The URL users reach (builds `authUrl`).
    pub public_url: String,
    pub session_ttl: Duration,
    pub max_session_ttl: Duration,
    pub device_interval: Duration,
    /// How long an idle session actor stays in memory.
    pub actor_idle: Duration,
    pub wrong_codes_per_client: u32,
    pub wrong_codes_global: u32,
}

/// The room that keeps auth sessions and drives their steps.
pub(crate) struct Flows {
    store: Store,
    vault: Vault,
    providers: Providers,
    clock: Arc<dyn Clock>,
    settings: FlowSettings,
    device_guard: DeviceGuard,
    /// Bumped on every change of a session here, for long polls.
    changes: tokio::sync::watch::Sender<u64>,
    forwarding: Forwarding,
    sessions: Sessions,
    /// One on-demand session begun at a time on this node (`on_demand`), so an
    /// agent's concurrent calls for a user not yet connected share one code.
    asking: tokio::sync::Mutex<()>,
}

impl Flows {
    pub fn new(
        store: Store,
        vault: Vault,
        providers: Providers,
        clock: Arc<dyn Clock>,
        forwarding: Forwarding,
        settings: FlowSettings,
    ) -> Arc<Flows> {
        // Its actors get a weak handle: a strong one would loop through their registry.
        Arc::new_cyclic(|me: &Weak<Flows>| {
            let expirer: Weak<dyn SessionExpirer> = me.clone();
            Flows {
                store,
                vault,
                providers,
                clock,
                device_guard: DeviceGuard::new(settings.wrong_codes_per_client, settings.wrong_codes_global),
                changes: tokio::sync::watch::channel(0).0,
                forwarding,
                sessions: Sessions::new(expirer, settings.actor_idle),
                asking: tokio::sync::Mutex::new(()),
                settings,
            }
        })
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The owner's side of a peer's `RegionWork::PollSession`.
    pub async fn poll_for_peer(&self, session_id: &str) -> EngineResult<()> {
        self.sessions.poll(session_id).await
    }

    /// Tests only: makes a session's actor panic.
    pub async fn crash_session_actor(&self, session_id: &str) -> EngineResult<()> {
        self.sessions.crash(session_id).await
    }

    /// Active session actors on this node.
    pub fn active_actors(&self) -> usize {
        self.sessions.active()
    }

    pub fn stop_actors(&self) {
        self.sessions.stop_all();
    }
}
