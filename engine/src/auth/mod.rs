//! Who calls: a presented API key turned into its project (remembered while the
//! project's access epoch holds), and whether the calling agent may use an
//! integration.

pub mod grants;
mod key_use;

use std::sync::Arc;

use sha2::Digest;

use self::key_use::KeyUse;

use crate::error::{EngineError, EngineResult};
use crate::model::access_epoch;
use crate::model::agent::{self, Agent};
use crate::model::api_key;
use crate::store::{Store, Tx};
use crate::util::clock::Clock;
use crate::util::epoch_cache::{CacheStats, EpochCache};

/// The calling agent, which must exist in the project.
pub(crate) async fn require_agent(tx: &Tx, project_id: &str, agent_id: &str) -> EngineResult<Agent> {
    agent::get(tx, project_id, agent_id).await?.ok_or(EngineError::NotFound("agent"))
}

/// The agent a session is begun as: the app's agent, or for the operator (a
/// reconnect link from the console) none of the app's, on every integration.
pub(crate) async fn session_agent(tx: &Tx, principal: &Principal, agent_id: &str) -> EngineResult<Agent> {
    if principal.is_operator() {
        let (project_id, agent_id) = (principal.project_id.to_string(), OPERATOR.to_owned());
        let created_at = crate::util::clock::Timestamp(0);
        return Ok(Agent {
            project_id,
            agent_id,
            integrations: None,
            connect_on_demand: false,
            expires_at: None,
            created_at,
        });
    }
    require_agent(tx, &principal.project_id, agent_id).await
}

/// The `api_key_id` of the operator's principal: no key id is minted like it.
const OPERATOR: &str = "operator";


/// How many API keys a node remembers.
const REMEMBERED_API_KEYS: usize = 10_000;

/// Who is calling: the project of a valid API key. Shared strings: the API-key
/// cache hands out a copy on every proxied call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub project_id: Arc<str>,
    pub api_key_id: Arc<str>,
}

impl Principal {
    /// The operator acting in a project (the console, the admin API): never an API
    /// key's, as no minted key id reads `operator`.
    pub fn operator(project_id: &str) -> Principal {
        Principal { project_id: project_id.into(), api_key_id: OPERATOR.into() }
    }

    pub fn is_operator(&self) -> bool {
        &*self.api_key_id == OPERATOR
    }
}

/// The room that tells who calls.
pub(crate) struct Auth {
    store: Store,
    /// Principals by SHA-256 of the presented key, good while their project's access epoch holds.
    api_keys: EpochCache<[u8; 32], i64, Principal>,
    key_use: KeyUse,
}

impl Auth {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        let key_use = KeyUse::new(store.clone(), clock);
        Auth { store, api_keys: EpochCache::new(REMEMBERED_API_KEYS), key_use }
    }

    /// How often a remembered API key answered.
    pub fn cache_stats(&self) -> CacheStats {
        self.api_keys.stats()
    }

    /// The project a presented API key belongs to. A key seen before costs at most
    /// one read: its project's access epoch, which a revocation moves — none while
    /// nothing was committed since it was last read (`EpochCache::unchanged`).
    pub async fn authenticate(&self, presented: &str) -> EngineResult<Principal> {
        let principal = self.principal_of(presented).await?;
        self.key_use.note(&principal);
        Ok(principal)
    }

    async fn principal_of(&self, presented: &str) -> EngineResult<Principal> {
        let hash: [u8; 32] = sha2::Sha256::digest(presented.as_bytes()).into();
        let keys = &self.api_keys;
        let any = |_: &Principal| true;
        if let Some(principal) = keys.unchanged(&hash, self.store.version(), any) {
            return Ok(principal);
        }
        let tx = self.store.begin().await?;
        if let Some((_, principal)) = keys.peek(&hash) {
            let epoch = access_epoch::project(&tx, &principal.project_id).await?;
            if let Some(principal) = keys.revalidate(&hash, epoch, tx.version(), any) {
                return Ok(principal);
            }
        }
        let key = api_key::authenticate(&tx, presented).await?.ok_or(EngineError::Unauthorized)?;
        let epoch = access_epoch::project(&tx, &key.project_id).await?;
        let principal = Principal { project_id: key.project_id.into(), api_key_id: key.id.into() };
        keys.insert(hash, epoch, tx.version(), principal.clone());
        Ok(principal)
    }
}
