//! What the API shows of sessions and connections: ids, statuses, times, never a token.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::EngineResult;
use crate::model::connection::{self, Account, Connection, ConnectionStatus};
use crate::model::session::{AuthSession, Flow, SessionStatus};
use crate::store::Tx;
use crate::util::clock::Rfc3339;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreated {
    pub session_id: String,
    pub flow: Flow,
    pub auth_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_auth_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
    pub expires_at: Rfc3339,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderProgress {
    pub status: SessionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub session_id: String,
    pub flow: Flow,
    pub status: SessionStatus,
    pub providers: BTreeMap<String, ProviderProgress>,
    pub expires_at: Rfc3339,
}

impl From<&AuthSession> for SessionView {
    fn from(session: &AuthSession) -> Self {
        SessionView {
            session_id: session.id.clone(),
            flow: session.flow,
            status: session.status,
            providers: session
                .providers
                .iter()
                .map(|(key, p)| {
                    (
                        key.clone(),
                        ProviderProgress { status: p.status, connection_id: p.connection_id.clone() },
                    )
                })
                .collect(),
            expires_at: Rfc3339(session.expires_at),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub connection_id: String,
    pub integration: String,
    pub provider: String,
    pub account: Account,
    pub scopes: Vec<String>,
    pub status: ConnectionStatus,
    /// The connection the proxy uses for its integration when a call names none.
    pub default: bool,
    pub created_at: Rfc3339,
    pub refreshed_at: Rfc3339,
}

impl ConnectionView {
    /// The view of `c`, whose `default` `mark_defaults` sets.
    fn of(c: &Connection) -> Self {
        ConnectionView {
            connection_id: c.id.clone(),
            integration: c.integration.clone(),
            provider: c.provider.clone(),
            account: c.account.clone(),
            scopes: c.scopes.clone(),
            status: c.status,
            default: false,
            created_at: Rfc3339(c.created_at),
            refreshed_at: Rfc3339(c.refreshed_at),
        }
    }

    /// The views of the entity's connections that `shown` picks, each marked default
    /// or not: one listing, and one default read per integration.
    pub async fn of_entity(
        tx: &Tx,
        project_id: &str,
        entity_id: &str,
        shown: impl Fn(&Connection) -> bool,
    ) -> EngineResult<Vec<ConnectionView>> {
        let all = connection::list(tx, project_id, entity_id).await?;
        let mut defaults: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        let mut views = Vec::new();
        for c in all.iter().filter(|c| shown(c)) {
            let default = match defaults.get(c.integration.as_str()) {
                Some(default) => *default,
                None => {
                    let default =
                        connection::default_of(tx, &all, &c.integration).await?.map(|d| d.id.as_str());
                    *defaults.entry(&c.integration).or_insert(default)
                }
            };
            views.push(ConnectionView { default: default == Some(c.id.as_str()), ..ConnectionView::of(c) });
        }
        Ok(views)
    }
}

/// What the app's backend receives when a popup session is confirmed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    pub status: SessionStatus,
    pub connections: Vec<ConnectionView>,
}
