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

fn checked_name(name: &str) -> Result<&str, RecordError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(RecordError::Invalid { what: "project name", why: "must be 1 to 200 characters".into() });
    }
    Ok(name)
}

pub async fn create(tx: &Tx, name: &str, now: Timestamp) -> Result<Project, RecordError> {
    let name = checked_name(name)?;
    let project =
        Project { id: ids::mint("prj"), name: name.to_owned(), origins: Vec::new(), created_at: now };
    put(tx, &project)?;
    tx.set(&list_key(&project.id), b"")?;
    Ok(project)
}

/// The index every project is listed from: its own record shares a subspace with
/// everything of the project.
fn list_space() -> crate::store::Subspace {
    keys::index("project")
}

fn list_key(project_id: &str) -> Vec<u8> {
    list_space().pack(&(project_id,))
}

/// One page of the projects, oldest id first.
pub async fn list(
    tx: &Tx,
    request: &super::page::PageRequest,
) -> Result<super::page::Page<Project>, RecordError> {
    let page = super::page::read(tx, "projects", &list_space(), request).await?;
    let mut projects = Vec::with_capacity(page.items.len());
    for pair in &page.items {
        let Ok((id,)) = list_space().unpack::<(String,)>(&pair.key) else { continue };
        projects.extend(get(tx, &id).await?);
    }
    Ok(super::page::Page { items: projects, next_cursor: page.next_cursor })
}

pub async fn get(tx: &Tx, project_id: &str) -> Result<Option<Project>, RecordError> {
    if ids::check_minted("prj", project_id, "project id").is_err() {
        return Ok(None);
    }
    get_json(tx, &keys::project(project_id), WHAT).await
}

pub async fn rename(tx: &Tx, project_id: &str, name: &str) -> Result<Project, RecordError> {
    let name = checked_name(name)?;
    let mut project = get(tx, project_id).await?.ok_or(RecordError::NotFound(WHAT))?;
    project.name = name.to_owned();
    put(tx, &project)?;
    Ok(project)
}

/// Removes the project's record and listing entry (the first step of deleting it).
pub fn remove(tx: &Tx, project_id: &str) -> Result<(), RecordError> {
    tx.clear(&keys::project(project_id))?;
    tx.clear(&list_key(project_id))?;
    super::access_epoch::bump_project(tx, project_id)
}

pub fn put(tx: &Tx, project: &Project) -> Result<(), RecordError> {
    put_json(tx, &keys::project(&project.id), project, WHAT)
}
