//! Authorization on demand: a call by an agent with `connectOnDemand` for a user
//! who has no usable connection to the integration begins a device session for
//! that user and answers its link and code, so the agent can hand them over and
//! retry once the user has consented (with the same account, a connection that
//! needs authorizing again is renewed in place). While that session is pending,
//! later calls answer the same one.

use super::Flows;
use super::sessions::CreateSession;
use super::views::SessionCreated;
use crate::auth::grants;
use crate::auth::{Principal, require_agent};
use crate::error::{EngineError, EngineResult};
use crate::model::agent::Refused;
use crate::model::keys;
use crate::model::session::{self, Flow};
use crate::store::Tx;

/// A pending session closer than this to its expiry is not handed out again.
const MIN_LEFT_MS: i64 = 60_000;

/// The session last begun on demand for an entity and integration.
fn index_key(project_id: &str, entity_id: &str, integration: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("on_demand_session", entity_id, integration))
}

impl Flows {
    /// The device session that asks the user, for an agent that may ask; `None`
    /// when the agent does not connect on demand.
    pub async fn on_demand(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        integration: &str,
    ) -> EngineResult<Option<SessionCreated>> {
        match self.ask_user(principal, agent_id, entity_id, integration).await {
            Err(EngineError::AgentNotAllowed { refused: Refused::OnDemand, .. }) => Ok(None),
            asked => asked.map(Some),
        }
    }

    /// The device session in which the user connects `integration` for an agent
    /// granted it and `connectOnDemand`: the pending one if there is one, else a
    /// new one. Never a reconnect: whoever completes it adds a connection (or, with
    /// the same account, renews theirs) and cannot put another account in place of
    /// the user's.
    pub async fn ask_user(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        integration: &str,
    ) -> EngineResult<SessionCreated> {
        let tx = self.store.begin().await?;
        let agent = require_agent(&tx, &principal.project_id, agent_id).await?;
        grants::grant(&agent, integration, self.now())?;
        if !agent.connect_on_demand {
            let refused = Refused::OnDemand;
            return Err(EngineError::AgentNotAllowed { agent_id: agent.agent_id, refused });
        }
        drop(tx);
        // Rare (only a user not yet connected gets here), so one at a time per node:
        // concurrent calls find the session the first one began.
        let _one_at_a_time = self.asking.lock().await;
        let tx = self.store.begin().await?;
        if let Some(pending) = self.pending_on_demand(&tx, principal, entity_id, integration).await? {
            return Ok(pending);
        }
        drop(tx);
        let request = CreateSession {
            entity_id: entity_id.to_owned(),
            agent_id: agent_id.to_owned(),
            flow: Some(Flow::Device),
            providers: [(integration.to_owned(), Vec::new())].into_iter().collect(),
            ..CreateSession::default()
        };
        let created = self.create_session(principal, request).await?;
        let index = index_key(&principal.project_id, entity_id, integration);
        let session_id = created.session_id.clone();
        self.store
            .run(|tx| {
                let (index, session_id) = (index.clone(), session_id.clone());
                async move { crate::model::put_json(&tx, &index, &session_id, "on-demand session") }
            })
            .await?;
        Ok(created)
    }

    /// The session begun on demand before, while the user can still complete it.
    async fn pending_on_demand(
        &self,
        tx: &Tx,
        principal: &Principal,
        entity_id: &str,
        integration: &str,
    ) -> EngineResult<Option<SessionCreated>> {
        let index = index_key(&principal.project_id, entity_id, integration);
        let Some(session_id) = crate::model::get_json::<String>(tx, &index, "on-demand session").await?
        else {
            return Ok(None);
        };
        let Some(session) = session::get(tx, &session_id).await? else { return Ok(None) };
        let usable = *session.project_id == *principal.project_id
            && !session.status.is_final()
            && session.expires_at.0 - self.now().0 > MIN_LEFT_MS;
        Ok(usable.then(|| self.created_view(&session)))
    }
}
