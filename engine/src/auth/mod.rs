//! Who calls: a presented API key turned into its project, or an agent token into
//! the agent and entity it stands for (each remembered while the project's access
//! epoch holds); when a key was last used (`key_use`); minting agent tokens
//! (`agent_tokens`); and what an agent's grant allows (`grants`).

mod agent_tokens;
pub mod grants;
mod key_use;

use std::sync::Arc;

use sha2::Digest;

use self::key_use::KeyUse;

use crate::error::{EngineError, EngineResult};
use crate::model::access_epoch;
use crate::model::agent::{self, Agent};
use crate::model::{agent_token, api_key};
use crate::store::{Store, Tx};
use crate::util::clock::{Clock, Timestamp};
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

/// Who an agent token (`model::agent_token`) speaks for: the three identity
/// headers in one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCaller {
    /// The project, and the token's id in place of an API key's.
    pub principal: Principal,
    pub agent_id: Arc<str>,
    pub entity_id: Arc<str>,
    pub expires_at: Timestamp,
}

impl AsRef<Principal> for Principal {
    fn as_ref(&self) -> &Principal {
        self
    }
}

impl AsRef<Principal> for AgentCaller {
    fn as_ref(&self) -> &Principal {
        &self.principal
    }
}

/// The room that tells who calls.
pub(crate) struct Auth {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Principals by SHA-256 of the presented key, good while their project's access epoch holds.
    api_keys: EpochCache<[u8; 32], i64, Principal>,
    /// The same for agent tokens, each also good only until it expires.
    agent_tokens: EpochCache<[u8; 32], i64, AgentCaller>,
    key_use: KeyUse,
}

impl Auth {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        let key_use = KeyUse::new(store.clone(), clock.clone());
        Auth {
            store,
            clock,
            api_keys: EpochCache::new(REMEMBERED_API_KEYS),
            agent_tokens: EpochCache::new(REMEMBERED_API_KEYS),
            key_use,
        }
    }

    /// How often a remembered API key answered.
    pub fn cache_stats(&self) -> CacheStats {
        self.api_keys.stats()
    }

    /// The project a presented API key belongs to. A key seen before costs at most
    /// one read: its project's access epoch, which a revocation moves — none while
    /// nothing was committed since it was last read (`EpochCache::unchanged`).
    pub async fn authenticate(&self, presented: &str) -> EngineResult<Principal> {
        let load = async |tx: &Tx| {
            let key = api_key::authenticate(tx, presented).await?.ok_or(EngineError::Unauthorized)?;
            Ok(Principal { project_id: key.project_id.into(), api_key_id: key.id.into() })
        };
        let principal = remembered(&self.store, &self.api_keys, presented, |_| true, load).await?;
        self.key_use.note(&principal);
        Ok(principal)
    }

    /// Who a presented agent token speaks for, while it is neither revoked nor expired.
    pub async fn authenticate_agent(&self, presented: &str) -> EngineResult<AgentCaller> {
        let now = self.clock.now();
        let load = async |tx: &Tx| {
            let token = agent_token::find(tx, presented).await?.filter(|t| t.expires_at > now);
            let token = token.ok_or(EngineError::Unauthorized)?;
            // Revoking the key that minted it ends it too (the revocation moves the
            // project's epoch, so no node goes on remembering it).
            if api_key::get(tx, &token.project_id, &token.api_key_id).await?.is_none() {
                return Err(EngineError::Unauthorized);
            }
            Ok(AgentCaller {
                principal: Principal { project_id: token.project_id.into(), api_key_id: token.id.into() },
                agent_id: token.agent_id.into(),
                entity_id: token.entity_id.into(),
                expires_at: token.expires_at,
            })
        };
        let live = |caller: &AgentCaller| caller.expires_at > now;
        remembered(&self.store, &self.agent_tokens, presented, live, load).await
    }
}

/// What a presented secret stands for: remembered by its hash while its project's
/// access epoch holds (and `live` says so), otherwise loaded from the store.
async fn remembered<V: Clone + AsRef<Principal>>(
    store: &Store,
    cache: &EpochCache<[u8; 32], i64, V>,
    presented: &str,
    live: impl Fn(&V) -> bool + Copy,
    load: impl AsyncFnOnce(&Tx) -> EngineResult<V>,
) -> EngineResult<V> {
    let project_of = |value: &V| value.as_ref().project_id.clone();
    let hash: [u8; 32] = sha2::Sha256::digest(presented.as_bytes()).into();
    if let Some(value) = cache.unchanged(&hash, store.version(), live) {
        return Ok(value);
    }
    let tx = store.begin().await?;
    if let Some((_, value)) = cache.peek(&hash) {
        let epoch = access_epoch::project(&tx, &project_of(&value)).await?;
        if let Some(value) = cache.revalidate(&hash, epoch, tx.version(), live) {
            return Ok(value);
        }
    }
    let value = load(&tx).await?;
    let epoch = access_epoch::project(&tx, &project_of(&value)).await?;
    cache.insert(hash, epoch, tx.version(), value.clone());
    Ok(value)
}
