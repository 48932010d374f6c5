//! The operator's reads, changes and deletes of what `Admin` writes: every
//! resource listed a page at a time (`model::page`), read alone, and deleted.
//! A resource of a project that does not exist is `NotFound("project")`, so an
//! operator can tell a wrong project id from an empty listing.

use super::{Admin, IntegrationView};
use crate::error::{EngineError, EngineResult};
use crate::model::agent::{self, Agent};
use crate::model::api_key::{self, ApiKey};
use crate::model::page::{Page, PageRequest};
use crate::model::{integration, project};
use crate::store::Tx;
use crate::util::clock::Timestamp;

/// An API key and when it was last used (`auth::key_use`: to five minutes).
#[derive(Debug, Clone)]
pub struct KeyInUse {
    pub key: ApiKey,
    pub last_used_at: Option<Timestamp>,
}

impl KeyInUse {
    async fn all(tx: &Tx, keys: Vec<ApiKey>) -> EngineResult<Vec<KeyInUse>> {
        let used = api_key::last_used(tx, &keys).await?;
        Ok(keys.into_iter().zip(used).map(|(key, last_used_at)| KeyInUse { key, last_used_at }).collect())
    }
}

impl Admin {
    pub async fn list_projects(&self, request: &PageRequest) -> EngineResult<Page<project::Project>> {
        let tx = self.store.begin().await?;
        Ok(project::list(&tx, request).await?)
    }

    pub async fn project(&self, project_id: &str) -> EngineResult<project::Project> {
        self.require_project(project_id).await
    }

    pub async fn rename_project(&self, project_id: &str, name: &str) -> EngineResult<project::Project> {
        let (project_id, name) = (project_id.to_owned(), name.to_owned());
        Ok(self
            .store
            .run(|tx| {
                let (project_id, name) = (project_id.clone(), name.clone());
                async move { project::rename(&tx, &project_id, &name).await }
            })
            .await?)
    }

    pub async fn list_api_keys(
        &self,
        project_id: &str,
        request: &PageRequest,
    ) -> EngineResult<Page<KeyInUse>> {
        self.require_project(project_id).await?;
        let tx = self.store.begin().await?;
        let page = api_key::list_page(&tx, project_id, request).await?;
        Ok(Page { items: KeyInUse::all(&tx, page.items).await?, next_cursor: page.next_cursor })
    }

    pub async fn api_key(&self, project_id: &str, key_id: &str) -> EngineResult<KeyInUse> {
        self.require_project(project_id).await?;
        let tx = self.store.begin().await?;
        let key = api_key::get(&tx, project_id, key_id).await?.ok_or(EngineError::NotFound("API key"))?;
        let mut one = KeyInUse::all(&tx, vec![key]).await?;
        one.pop().ok_or(EngineError::NotFound("API key"))
    }

    pub async fn list_agents(&self, project_id: &str, request: &PageRequest) -> EngineResult<Page<Agent>> {
        self.require_project(project_id).await?;
        let tx = self.store.begin().await?;
        Ok(agent::list(&tx, project_id, request).await?)
    }

    pub async fn agent(&self, project_id: &str, agent_id: &str) -> EngineResult<Agent> {
        self.require_project(project_id).await?;
        let tx = self.store.begin().await?;
        agent::get(&tx, project_id, agent_id).await?.ok_or(EngineError::NotFound("agent"))
    }

    pub async fn delete_agent(&self, project_id: &str, agent_id: &str) -> EngineResult<()> {
        self.require_project(project_id).await?;
        let (project_id, agent_id) = (project_id.to_owned(), agent_id.to_owned());
        Ok(self
            .store
            .run(|tx| {
                let (project_id, agent_id) = (project_id.clone(), agent_id.clone());
                async move { agent::delete(&tx, &project_id, &agent_id).await }
            })
            .await?)
    }

    pub async fn list_integration_page(
        &self,
        project_id: &str,
        request: &PageRequest,
    ) -> EngineResult<Page<IntegrationView>> {
        self.require_project(project_id).await?;
        let tx = self.store.begin().await?;
        let page = integration::list_page(&tx, project_id, request).await?;
        Ok(page.map(|i| IntegrationView::from(&i).without_internal_fields()))
    }

    pub async fn integration(&self, project_id: &str, key: &str) -> EngineResult<IntegrationView> {
        self.require_project(project_id).await?;
        let tx = self.store.begin().await?;
        let found =
            integration::get(&tx, project_id, key).await?.ok_or(EngineError::NotFound("integration"))?;
        Ok(IntegrationView::from(&found).without_internal_fields())
    }

    pub async fn delete_integration(&self, project_id: &str, key: &str) -> EngineResult<()> {
        self.require_project(project_id).await?;
        let (project_id, key) = (project_id.to_owned(), key.to_owned());
        Ok(self
            .store
            .run(|tx| {
                let (project_id, key) = (project_id.clone(), key.clone());
                async move { integration::delete(&tx, &project_id, &key).await }
            })
            .await?)
    }
}
