//! Authorization on demand: a call by an agent with `connectOnDemand` for a user
//! who has no usable connection to the integration begins a device session for
//! that user (a reconnect when the connection needs authorizing again) and answers
//! its link and code, so the agent can hand them over and retry once the user has
//! consented. While that session is pending, later calls answer the same one.

use super::Flows;
use super::sessions::CreateSession;
use super::views::SessionCreated;
use crate::auth::{Principal, require_agent};
use crate::error::EngineResult;
use crate::model::session::{self, Flow};
use crate::model::{connection, keys};
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
        let tx = self.store.begin().await?;
        let agent = require_agent(&tx, &principal.project_id, agent_id).await?;
        if !agent.connect_on_demand {
            return Ok(None);
        }
        drop(tx);
        Ok(Some(self.ask_user(principal, agent_id, entity_id, integration).await?))
    }

    /// The device session in which the user connects `integration` for the agent
    /// (re-authorizing their connection if they have one): the pending one if there
    /// is one, else a new one.
    pub async fn ask_user(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        integration: &str,
    ) -> EngineResult<SessionCreated> {
        let tx = self.store.begin().await?;
        if let Some(pending) = self.pending_on_demand(&tx, principal, entity_id, integration).await? {
            return Ok(pending);
        }
        let connections = connection::list(&tx, &principal.project_id, entity_id).await?;
        let reconnect = connection::default_of(&tx, &connections, integration).await?.map(|c| c.id.clone());
        drop(tx);
        let request = CreateSession {
            entity_id: entity_id.to_owned(),
            agent_id: agent_id.to_owned(),
            flow: Some(Flow::Device),
            providers: [(integration.to_owned(), Vec::new())].into_iter().collect(),
            reconnect,
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
