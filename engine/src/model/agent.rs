//! An agent: an app or AI agent inside a project, and what it was granted — which
//! integrations, and in each which scopes, methods and paths (`auth::grants`
//! enforces them), until when, and whether a call for a user not yet connected
//! asks the user (`connectOnDemand`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;

const WHAT: &str = "agent";
/// The most scopes, methods or path patterns one grant lists.
pub const MAX_GRANT_ITEMS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub project_id: String,
    pub agent_id: String,
    /// What the agent may use, per integration; `None` means all of the project's,
    /// unrestricted. (Agents stored before grants hold a list of integrations.)
    #[serde(deserialize_with = "grants_or_list")]
    pub integrations: Option<BTreeMap<String, Grant>>,
    /// A call for a user with no usable connection begins a device session for
    /// them and answers its link and code.
    #[serde(default)]
    pub connect_on_demand: bool,
    /// After this the agent may do nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// What an operator grants an agent: the parts of `Agent` it writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub integrations: Option<BTreeMap<String, Grant>>,
    pub connect_on_demand: bool,
    pub expires_at: Option<Timestamp>,
}

impl Access {
    /// Unrestricted use of `integrations` (all of the project's if `None`).
    pub fn to(integrations: Option<Vec<String>>) -> Self {
        let grants = integrations.map(|list| list.into_iter().map(|i| (i, Grant::default())).collect());
        Access { integrations: grants, ..Access::default() }
    }
}

/// What an agent may do with one integration; a list left out allows all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// The scopes its sessions may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// HTTP methods of proxied calls (`GET`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Path patterns of proxied calls: `*` stands for one segment or part of one,
    /// `**` for any number of segments (`/repos/**`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
}

fn grants_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BTreeMap<String, Grant>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Grants(BTreeMap<String, Grant>),
        List(Vec<String>),
    }
    Ok(Option::<Stored>::deserialize(d)?.map(|stored| match stored {
        Stored::Grants(grants) => grants,
        Stored::List(list) => list.into_iter().map(|i| (i, Grant::default())).collect(),
    }))
}

impl Agent {
    /// The grant for `integration`, if the agent may use it at all.
    pub fn grant(&self, integration: &str) -> Option<&Grant> {
        static ALL: Grant = Grant { scopes: None, methods: None, paths: None };
        match &self.integrations {
            None => Some(&ALL),
            Some(grants) => grants.get(integration),
        }
    }
}

/// What a grant did not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The grant's `expiresAt` has passed.
    Expired,
    Integration(String),
    /// Scopes the grant does not list.
    Scopes(Vec<String>),
    Method(String),
    Path(String),
    /// Asking users to connect (`connectOnDemand`) is not granted.
    OnDemand,
}

impl Refused {
    /// Which part of the grant refused: a stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::Expired => "expired",
            Refused::Integration(_) => "integration",
            Refused::Scopes(_) => "scopes",
            Refused::Method(_) => "method",
            Refused::Path(_) => "path",
            Refused::OnDemand => "connect",
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Expired => write!(f, "its grant has expired"),
            Refused::Integration(integration) => write!(f, "integration {integration:?} is not granted"),
            Refused::Scopes(scopes) => write!(f, "scopes {scopes:?} are not granted"),
            Refused::Method(method) => write!(f, "method {method} is not granted"),
            Refused::Path(path) => write!(f, "path {path:?} matches no granted pattern"),
            Refused::OnDemand => write!(f, "asking users to connect (connectOnDemand) is not granted"),
        }
    }
}

/// Refuses a grant that could not be enforced as written.
fn check_grant(integration: &str, grant: &Grant) -> Result<(), RecordError> {
    let invalid =
        |why: String| Err(RecordError::Invalid { what: "agent grant", why: format!("{integration}: {why}") });
    for list in [&grant.scopes, &grant.methods, &grant.paths].into_iter().flatten() {
        if list.len() > MAX_GRANT_ITEMS || list.iter().any(|item| item.is_empty() || item.len() > 512) {
            return invalid(format!("at most {MAX_GRANT_ITEMS} items, each 1 to 512 characters"));
        }
    }
    if let Some(method) = grant.methods.iter().flatten().find(|m| !m.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return invalid(format!("{method:?} is not an HTTP method in capitals"));
    }
    if let Some(path) = grant.paths.iter().flatten().find(|p| !p.starts_with('/') || p.contains(['?', '#'])) {
        return invalid(format!("{path:?} must start with / and name no query"));
    }
    Ok(())
}

fn record_key(project_id: &str, agent_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("agent", agent_id))
}

pub fn put(tx: &Tx, agent: &Agent) -> Result<(), RecordError> {
    ids::check_app_id(&agent.agent_id, "agent id")?;
    if let Some(integrations) = &agent.integrations {
        for (integration, grant) in integrations {
            ids::check_app_id(integration, "integration key")?;
            check_grant(integration, grant)?;
        }
    }
    put_json(tx, &record_key(&agent.project_id, &agent.agent_id), agent, WHAT)?;
    super::access_epoch::bump_project(tx, &agent.project_id)
}

/// One page of the project's agents, by id.
pub async fn list(
    tx: &Tx,
    project_id: &str,
    request: &super::page::PageRequest,
) -> Result<super::page::Page<Agent>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("agent",));
    super::page::read_json(tx, "agents", &space, request, WHAT).await
}

/// Deletes an agent and its tokens; calls made as it are refused from this commit on.
pub async fn delete(tx: &Tx, project_id: &str, agent_id: &str) -> Result<(), RecordError> {
    if get(tx, project_id, agent_id).await?.is_none() {
        return Err(RecordError::NotFound(WHAT));
    }
    tx.clear(&record_key(project_id, agent_id))?;
    super::agent_token::revoke_all(tx, project_id, agent_id).await?;
    super::access_epoch::bump_project(tx, project_id)
}

pub async fn get(tx: &Tx, project_id: &str, agent_id: &str) -> Result<Option<Agent>, RecordError> {
    if ids::check_app_id(agent_id, "agent id").is_err() {
        return Ok(None);
    }
    get_json(tx, &record_key(project_id, agent_id), WHAT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_stored_with_a_list_of_integrations_read_as_unrestricted_grants() {
        let old = r#"{"projectId":"prj_1","agentId":"cli","integrations":["github"],"createdAt":1}"#;
        let agent: Agent = serde_json::from_str(old).unwrap();
        assert_eq!(agent.grant("github"), Some(&Grant::default()));
        assert_eq!(agent.grant("slack"), None);
        assert!(!agent.connect_on_demand);
        let all = r#"{"projectId":"prj_1","agentId":"cli","integrations":null,"createdAt":1}"#;
        assert_eq!(serde_json::from_str::<Agent>(all).unwrap().grant("slack"), Some(&Grant::default()));
    }

    #[test]
    fn grants_that_cannot_be_enforced_are_refused() {
        let bad = [
            Grant { methods: Some(vec!["get".into()]), ..Grant::default() },
            Grant { paths: Some(vec!["repos/**".into()]), ..Grant::default() },
            Grant { paths: Some(vec!["/x?y=1".into()]), ..Grant::default() },
            Grant { scopes: Some(vec![String::new()]), ..Grant::default() },
            Grant { scopes: Some(vec!["s".into(); MAX_GRANT_ITEMS + 1]), ..Grant::default() },
        ];
        for grant in bad {
            assert!(check_grant("github", &grant).is_err(), "{grant:?}");
        }
        let good = Grant {
            scopes: Some(vec!["repo".into()]),
            methods: Some(vec!["GET".into()]),
            paths: Some(vec!["/repos/**".into()]),
        };
        assert!(check_grant("github", &good).is_ok());
    }
}
