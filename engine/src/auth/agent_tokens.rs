//! Minting and revoking agent tokens (`model::agent_token`): the app's backend
//! mints one for an agent of its project acting for one entity, for minutes to
//! hours, and can revoke it at once.

use std::time::Duration;

use super::{Auth, Principal, require_agent};
use crate::error::{EngineError, EngineResult};
use crate::model::agent_token::{self, AgentToken, NewToken};
use crate::model::page::{Page, PageRequest};
use crate::util::secret::SecretString;

/// How long a token lives unless the app says otherwise.
const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The bounds of what the app may ask for.
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

impl Auth {
    pub async fn mint_agent_token(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        expires_in: Option<Duration>,
    ) -> EngineResult<(AgentToken, SecretString)> {
        let ttl = expires_in.unwrap_or(DEFAULT_TTL);
        if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
            return Err(EngineError::Invalid(format!(
                "`expiresIn` must be {} to {} seconds",
                MIN_TTL.as_secs(),
                MAX_TTL.as_secs()
            )));
        }
        let now = self.clock.now();
        let project_id = &*principal.project_id;
        let expires_at = now.plus_millis(ttl.as_millis() as i64);
        self.store
            .run(|tx| async move {
                // The agent must exist now, in the commit that mints for it.
                require_agent(&tx, project_id, agent_id).await?;
                let api_key_id = &*principal.api_key_id;
                let new = NewToken { project_id, agent_id, entity_id, api_key_id, now, expires_at };
                Ok::<_, EngineError>(agent_token::issue(&tx, new).await?)
            })
            .await
    }

    /// One page of an agent's live tokens (never a token itself: only hashes are kept).
    pub async fn list_agent_tokens(
        &self,
        principal: &Principal,
        agent_id: &str,
        request: &PageRequest,
    ) -> EngineResult<Page<AgentToken>> {
        let tx = self.store.begin().await?;
        require_agent(&tx, &principal.project_id, agent_id).await?;
        Ok(agent_token::page(&tx, &principal.project_id, agent_id, request, self.clock.now()).await?)
    }

    pub async fn revoke_agent_token(
        &self,
        principal: &Principal,
        agent_id: &str,
        token_id: &str,
    ) -> EngineResult<()> {
        let project_id = &*principal.project_id;
        Ok(self
            .store
            .run(|tx| async move { agent_token::revoke(&tx, project_id, agent_id, token_id).await })
            .await?)
    }
}
