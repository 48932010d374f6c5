//! An agent: an app or AI agent inside a project, limited to some integrations.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;

const WHAT: &str = "agent";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub project_id: String,
    pub agent_id: String,
    /// The integrations this agent may use; `None` means all of the project's.
    pub integrations: Option<Vec<String>>,
    pub created_at: Timestamp,
}

impl Agent {
    pub fn may_use(&self, integration: &str) -> bool {
        self.integrations.as_ref().is_none_or(|allowed| allowed.iter().any(|i| i == integration))
    }
}

fn record_key(project_id: &str, agent_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("agent", agent_id))
}

pub fn put(tx: &Tx, agent: &Agent) -> Result<(), RecordError> {
    ids::check_app_id(&agent.agent_id, "agent id")?;
    if let Some(integrations) = &agent.integrations {
        for integration in integrations {
            ids::check_app_id(integration, "integration key")?;
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

/// Deletes an agent; calls made as it are refused from this commit on.
pub async fn delete(tx: &Tx, project_id: &str, agent_id: &str) -> Result<(), RecordError> {
    if get(tx, project_id, agent_id).await?.is_none() {
        return Err(RecordError::NotFound(WHAT));
    }
    tx.clear(&record_key(project_id, agent_id))?;
    super::access_epoch::bump_project(tx, project_id)
}

pub async fn get(tx: &Tx, project_id: &str, agent_id: &str) -> Result<Option<Agent>, RecordError> {
    if ids::check_app_id(agent_id, "agent id").is_err() {
        return Ok(None);
    }
    get_json(tx, &record_key(project_id, agent_id), WHAT).await
}
