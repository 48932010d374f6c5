//! The popup's last step: the app's backend proves it holds `sxc`, the secret its
//! button generated, and only then do the session's grants become connections.
//! Checked once, in constant time, before expiry; a wrong, replayed or
//! cross-session `sxc` activates nothing.

use crate::auth::Principal;
use crate::error::{EngineError, EngineResult};
use crate::flows::Flows;
use crate::flows::oauth::pkce;
use crate::flows::views::{Confirmed, ConnectionView};
use crate::model::connection::{self, Connection, ConnectionDraft, ConnectionStatus};
use crate::model::event::{self, EventDraft, EventKind};
use crate::model::grant;
use crate::model::session::{self, Flow, SessionStatus};

const MAX_SXC: usize = 256;

impl Flows {
    pub async fn confirm_session(
        &self,
        principal: &Principal,
        session_id: &str,
        sxc: &str,
    ) -> EngineResult<Confirmed> {
        if sxc.is_empty() || sxc.len() > MAX_SXC {
            return Err(EngineError::Forbidden("wrong sxc".into()));
        }
        let now = self.now();
        let vault = self.vault.clone();
        let (project_id, session_id, sxc) =
            (principal.project_id.clone(), session_id.to_owned(), sxc.to_owned());
        let confirmed = self
            .store
            .run(|tx| {
                let (vault, project_id, session_id, sxc) =
                    (vault.clone(), project_id.clone(), session_id.clone(), sxc.clone());
                async move {
                    let mut session = match session::get(&tx, &session_id).await? {
                        Some(s) if *s.project_id == *project_id && s.flow == Flow::Popup => s,
                        _ => return Err(EngineError::NotFound("session")),
                    };
                    if session.status == SessionStatus::Expired || session.expires_at <= now {
                        return Err(EngineError::Expired("session"));
                    }
                    let challenge = session.sxc_challenge.clone().unwrap_or_default();
                    if !pkce::matches_challenge(&sxc, &challenge) {
                        return Err(EngineError::Forbidden("wrong sxc".into()));
                    }
                    // The right sxc a second time is a replay: the grants are gone.
                    if session.status != SessionStatus::AwaitingConfirmation {
                        return Err(EngineError::Forbidden(
                            format!("the session cannot be confirmed: it is {:?}", session.status)
                                .to_lowercase(),
                        ));
                    }
                    let mut activated = Vec::new();
                    for pending in grant::list(&tx, &session.id).await? {
                        let draft = ConnectionDraft {
                            project_id: session.project_id.clone(),
                            entity_id: session.entity_id.clone(),
                            integration: pending.integration.clone(),
                            provider: pending.provider.clone(),
                            account: pending.account.clone(),
                            scopes: pending.scopes.clone(),
                            status: ConnectionStatus::Active,
                            params: session
                                .providers
                                .get(&pending.integration)
                                .map(|p| p.params.clone())
                                .unwrap_or_default(),
                            tokens: pending.tokens(&vault).await?,
                            recheck_at: pending.recheck_at,
                        };
                        let reconnect =
                            session.providers.get(&pending.integration).and_then(|p| p.reconnect.clone());
                        let (connection, created) =
                            connection::store_grant(&tx, &vault, draft, reconnect.as_deref(), now).await?;
                        let kind =
                            if created { EventKind::ConnectionCreated } else { EventKind::ConnectionUpdated };
                        let event_draft = EventDraft {
                            entity_id: Some(session.entity_id.clone()),
                            session_id: Some(session.id.clone()),
                            connection_id: Some(connection.id.clone()),
                            status: Some("active".into()),
                        };
                        event::append(&tx, &session.project_id, kind, event_draft, now).await?;
                        if let Some(entry) = session.providers.get_mut(&pending.integration) {
                            entry.status = SessionStatus::Completed;
                            entry.connection_id = Some(connection.id.clone());
                        }
                        activated.push(connection);
                    }
                    grant::purge(&tx, &session.id)?;
                    session.status = SessionStatus::Completed;
                    session::unschedule(&tx, &session)?;
                    session::put(&tx, &session)?;
                    let draft = EventDraft {
                        entity_id: Some(session.entity_id.clone()),
                        session_id: Some(session.id.clone()),
                        status: Some("completed".into()),
                        ..EventDraft::default()
                    };
                    event::append(&tx, &session.project_id, EventKind::SessionCompleted, draft, now)
                        .await
                        .map_err(EngineError::from)?;
                    Ok::<_, EngineError>(activated)
                }
            })
            .await?;
        self.session_changed();
        let tx = self.store.begin().await?;
        let connections = match confirmed.first() {
            Some(first) => {
                let activated = |c: &Connection| confirmed.iter().any(|a| a.id == c.id);
                ConnectionView::of_entity(&tx, &first.project_id, &first.entity_id, activated).await?
            }
            None => Vec::new(),
        };
        Ok(Confirmed { status: SessionStatus::Completed, connections })
    }
}
