//! A project: one tenant, with its API keys, agents, integrations, webhook
//! endpoints and allowed popup origins.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;

const WHAT: &str = "project";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    /// Exact origins (`https://app.example`) allowed to open the popup flow.
    #[serde(default)]
    pub origins: Vec<String>,
    pub created_at: Timestamp,
}

pub async fn create(tx: &Tx, name: &str, now: Timestamp) -> Result<Project, RecordError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(RecordError::Invalid { what: "project name", why: "must be 1 to 200 characters".into() });
    }
    let project =
        Project { id: ids::mint("prj"), name: name.to_owned(), origins: Vec::new(), created_at: now };
    put(tx, &project)?;
    Ok(project)
}

pub async fn get(tx: &Tx, project_id: &str) -> Result<Option<Project>, RecordError> {
    if ids::check_minted("prj", project_id, "project id").is_err() {
        return Ok(None);
    }
    get_json(tx, &keys::project(project_id), WHAT).await
}

pub fn put(tx: &Tx, project: &Project) -> Result<(), RecordError> {
    put_json(tx, &keys::project(&project.id), project, WHAT)
}
