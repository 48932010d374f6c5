//! When each API key was last used, for the operator's key listing (`lastUsedAt`).
//! A node writes a key's use at most once per `EVERY_MS`, off the request's path:
//! a busy key costs a write every few minutes rather than one per call, and the
//! time listed is at most that late.

use std::sync::{Arc, Mutex};

use hashbrown::HashMap;

use super::Principal;
use crate::model::api_key;
use crate::store::Store;
use crate::util::clock::Clock;

/// How stale a listed `lastUsedAt` may be.
pub(crate) const EVERY_MS: i64 = 5 * 60_000;
/// Keys remembered; past it the memory starts over (a write each, once).
const REMEMBERED: usize = 10_000;

pub(crate) struct KeyUse {
    store: Store,
    clock: Arc<dyn Clock>,
    /// When this node last wrote each key's use.
    written: Mutex<HashMap<Arc<str>, i64>>,
}

impl KeyUse {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        KeyUse { store, clock, written: Mutex::new(HashMap::new()) }
    }

    /// Notes a use of the principal's key; writes it when the last write is old.
    pub fn note(&self, principal: &Principal) {
        let now = self.clock.now();
        {
            let Ok(mut written) = self.written.lock() else { return };
            if written.get(&*principal.api_key_id).is_some_and(|at| now.0 - at < EVERY_MS) {
                return;
            }
            if written.len() >= REMEMBERED {
                written.clear();
            }
            written.insert(principal.api_key_id.clone(), now.0);
        }
        let store = self.store.clone();
        let (project_id, key_id) = (principal.project_id.clone(), principal.api_key_id.clone());
        tokio::spawn(async move {
            let (project_id, key_id) = (&*project_id, &*key_id);
            let recorded =
                store.run(|tx| async move { api_key::mark_used(&tx, project_id, key_id, now).await }).await;
            if let Err(error) = recorded {
                tracing::warn!(%error, key = key_id, "recording an API key's use failed");
            }
        });
    }
}
