//! Administration: the operator's writes and reads of projects, API keys,
//! agents, integrations and allowed origins (`Admin`); listings, reads and deletes
//! are in `reads`.

/// The entity an operator's "try it" connects (`Engine::operator_try`).
pub const TRY_ENTITY: &str = "console-try";

mod activity;
mod delete_project;
mod project_views;
mod reads;

pub use activity::{Activity, Hour};
pub use project_views::{
    AdminSessionView, AuditFilter, AuditView, ConnectionFilter, EntityView, ProjectConnectionView,
    SessionFilter,
};
pub use reads::KeyInUse;

/// The provider name of a remote MCP server reached with OAuth (`remote_mcp`).
pub const MCP_PROVIDER: &str = "mcp_oauth2";

use std::sync::Arc;

use serde::Serialize;

use crate::catalog::{params, serving};
use crate::credentials::Spec;
use crate::error::{EngineError, EngineResult};
use crate::model::agent::{self, Agent};
use crate::model::integration::{self, Integration, IntegrationDraft};
use crate::model::{api_key, project};
use crate::plugins::{Plugin, PluginError, ProviderFailure};
use crate::policy::Site;
use crate::providers::{CLIENT_AUTH_FIELD, HOSTS_FIELD, Providers, check_allowed_hosts};
use crate::store::Store;
use crate::util::clock::{Clock, Timestamp};
use crate::util::secret::SecretString;
use crate::vault::Vault;

/// An integration as it may be shown: never the secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    pub integration: String,
    pub provider: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub config: serde_json::Value,
}

impl From<&Integration> for IntegrationView {
    fn from(i: &Integration) -> Self {
        IntegrationView {
            integration: i.key.clone(),
            provider: i.provider.clone(),
            client_id: i.client_id.clone(),
            scopes: i.scopes.clone(),
            config: i.config.clone(),
        }
    }
}

/// The configuration as `plugin` checked it, stored as a template with the sites and
/// client-auth endpoints it needs. URLs that hold connection params are checked with a
/// stand-in value that is a valid host label, then turned back into placeholders.
async fn validated_template(plugin: &Plugin, config: &serde_json::Value) -> EngineResult<serde_json::Value> {
    let stand_ins = serving::stand_ins(config);
    let declared: Vec<String> = stand_ins.keys().cloned().collect();
    let checked = params::fill(&config.to_string(), &declared, &stand_ins)?;
    // A configuration the plugin refuses is the operator's to fix: a 400, not the
    // provider's failure.
    let validated = plugin.validate_config(&checked).await.map_err(|error| match error {
        PluginError::Provider { plugin, failure: ProviderFailure::InvalidConfig(why) } => {
            EngineError::Invalid(format!("the {plugin} plugin refuses this configuration: {why}"))
        }
        other => other.into(),
    })?;
    check_allowed_hosts(config, &validated.hosts)?;
    let unfill =
        |list: &[String]| -> Vec<String> { list.iter().map(|s| serving::unfill(s, &stand_ins)).collect() };
    let mut stored = serde_json::from_str(&serving::unfill(&validated.config, &stand_ins))
        .ok()
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    if let serde_json::Value::Object(map) = &mut stored {
        map.insert(HOSTS_FIELD.into(), unfill(&validated.hosts).into());
        map.insert(CLIENT_AUTH_FIELD.into(), unfill(&validated.client_auth_endpoints).into());
    }
    Ok(stored)
}

/// A credential provider's configuration, stored like a plugin's: the sites of its
/// API base and (for `jwt`) its token URL, with params as placeholders, are the
/// hosts its connections reach.
fn credential_template(config: &serde_json::Value) -> EngineResult<serde_json::Value> {
    let stand_ins = serving::stand_ins(config);
    let declared: Vec<String> = stand_ins.keys().cloned().collect();
    let mut sites = Vec::new();
    for (field, required) in [("apiBaseUrl", true), ("tokenUrl", false)] {
        let Some(template) = config.get(field).and_then(|v| v.as_str()) else {
            if required {
                return Err(EngineError::Invalid(format!("`{field}` is required")));
            }
            continue;
        };
        let url = params::fill(template, &declared, &stand_ins)?;
        let site = url::Url::parse(&url).ok().as_ref().and_then(Site::of);
        let site = site.ok_or_else(|| EngineError::Invalid(format!("`{field}` must be an http(s) URL")))?;
        sites.push(site.to_string());
    }
    check_allowed_hosts(config, &sites)?;
    let mut stored = config.clone();
    stored[HOSTS_FIELD] = sites.iter().map(|site| serving::unfill(site, &stand_ins)).collect();
    stored[CLIENT_AUTH_FIELD] = serde_json::json!([]);
    Ok(stored)
}

/// The operator's room.
pub(crate) struct Admin {
    store: Store,
    vault: Vault,
    providers: Providers,
    clock: Arc<dyn Clock>,
}

impl Admin {
    pub fn new(store: Store, vault: Vault, providers: Providers, clock: Arc<dyn Clock>) -> Self {
        Admin { store, vault, providers, clock }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub async fn create_project(&self, name: &str) -> EngineResult<project::Project> {
        let now = self.now();
        let name = name.to_owned();
        Ok(self
            .store
            .run(|tx| {
                let name = name.clone();
                async move { project::create(&tx, &name, now).await }
            })
            .await?)
    }

    async fn require_project(&self, project_id: &str) -> EngineResult<project::Project> {
        let tx = self.store.begin().await?;
        project::get(&tx, project_id).await?.ok_or(EngineError::NotFound("project"))
    }

    /// Issues an API key; the returned secret is the only copy.
    pub async fn issue_api_key(
        &self,
        project_id: &str,
        name: &str,
    ) -> EngineResult<(api_key::ApiKey, SecretString)> {
        self.require_project(project_id).await?;
        let now = self.now();
        let (project_id, name) = (project_id.to_owned(), name.to_owned());
        Ok(self
            .store
            .run(|tx| {
                let (p, n) = (project_id.clone(), name.clone());
                async move {
                    // In the same transaction: a key never outlives a project deleted meanwhile.
                    project::get(&tx, &p).await?.ok_or(crate::model::RecordError::NotFound("project"))?;
                    api_key::issue(&tx, &p, &n, now)
                }
            })
            .await?)
    }

    pub async fn revoke_api_key(&self, project_id: &str, key_id: &str) -> EngineResult<()> {
        let (project_id, key_id) = (project_id.to_owned(), key_id.to_owned());
        Ok(self
            .store
            .run(|tx| {
                let (p, k) = (project_id.clone(), key_id.clone());
                async move { api_key::revoke(&tx, &p, &k).await }
            })
            .await?)
    }

    pub async fn put_agent(
        &self,
        project_id: &str,
        agent_id: &str,
        access: agent::Access,
    ) -> EngineResult<Agent> {
        self.require_project(project_id).await?;
        let agent = Agent {
            project_id: project_id.to_owned(),
            agent_id: agent_id.to_owned(),
            integrations: access.integrations,
            connect_on_demand: access.connect_on_demand,
            expires_at: access.expires_at,
            created_at: self.now(),
        };
        let stored = agent.clone();
        self.store
            .run(|tx| {
                let a = stored.clone();
                async move { agent::put(&tx, &a) }
            })
            .await?;
        Ok(agent)
    }

    /// The URL of the remote MCP server a draft names, if it names one: the
    /// generic `mcp_oauth2` provider's `config.url`, or a catalog entry's of that
    /// mode (which `config.url` may override).
    fn remote_mcp_url(&self, draft: &IntegrationDraft) -> Option<EngineResult<String>> {
        let given = draft.config.get("url").and_then(serde_json::Value::as_str).map(str::to_owned);
        if draft.provider == MCP_PROVIDER {
            let missing = || EngineError::Invalid("mcp_oauth2 needs config.url, the MCP server's URL".into());
            return Some(given.ok_or_else(missing));
        }
        let entry = self.providers.catalog().get(&draft.provider)?;
        (entry.auth_mode == crate::catalog::AuthMode::McpOauth2)
            .then(|| Ok(given.unwrap_or_else(|| entry.api_base_url.clone())))
    }

    /// A remote MCP server's integration as the generic OAuth 2.0 plugin serves it:
    /// its authorization server discovered and SecuriX registered there, so the
    /// operator gives only `config.url` (a client id given is refused: the
    /// registration makes one).
    async fn remote_mcp_draft(&self, draft: IntegrationDraft, url: &str) -> EngineResult<IntegrationDraft> {
        if !draft.client_id.is_empty() {
            return Err(EngineError::Invalid(
                "mcp_oauth2 registers its own client: leave clientId out".into(),
            ));
        }
        let registered = self.providers.register_at_mcp_server(url).await?;
        let scopes = if draft.scopes.is_empty() { registered.scopes } else { draft.scopes };
        Ok(IntegrationDraft {
            provider: "oauth2".into(),
            client_id: registered.client_id,
            client_secret: registered.client_secret,
            scopes,
            config: registered.config,
            key: draft.key,
        })
    }

    /// Enables a provider in a project. The plugin checks the configuration first
    /// (and resolves OIDC discovery), so a broken integration is refused up front.
    pub async fn put_integration(
        &self,
        project_id: &str,
        draft: IntegrationDraft,
    ) -> EngineResult<IntegrationView> {
        self.require_project(project_id).await?;
        let draft = match self.remote_mcp_url(&draft) {
            Some(url) => self.remote_mcp_draft(draft, &url?).await?,
            None => draft,
        };
        let loaded = |id: &str| self.providers.get(id).is_ok();
        let served = serving::serve(self.providers.catalog(), &draft.provider, loaded, &draft.config)
            .map_err(EngineError::Invalid)?;
        let config = match Spec::of(&served.config) {
            Some(spec) => {
                spec.map_err(|e| EngineError::Invalid(e.to_string()))?;
                credential_template(&served.config)?
            }
            None if draft.client_id.is_empty() => {
                return Err(EngineError::Invalid(format!(
                    "{} needs the project's OAuth client id",
                    draft.provider
                )));
            }
            None => {
                let plugin = self.providers.get(served.plugin.as_deref().unwrap_or(&draft.provider))?;
                validated_template(&plugin, &served.config).await?
            }
        };
        let scopes = if draft.scopes.is_empty() { served.default_scopes } else { draft.scopes.clone() };
        let draft = IntegrationDraft { config, scopes, ..draft };
        let plugin_id = served.plugin;
        let now = self.now();
        let (vault, project_id) = (self.vault.clone(), project_id.to_owned());
        let stored = self
            .store
            .run(|tx| {
                let (vault, project_id, draft, plugin) =
                    (vault.clone(), project_id.clone(), draft.clone(), plugin_id.clone());
                async move { integration::put(&tx, &vault, &project_id, draft, plugin, now).await }
            })
            .await?;
        Ok(IntegrationView::from(&stored).without_internal_fields())
    }

    pub async fn list_integrations(&self, project_id: &str) -> EngineResult<Vec<IntegrationView>> {
        let tx = self.store.begin().await?;
        Ok(integration::list(&tx, project_id)
            .await?
            .iter()
            .map(|i| IntegrationView::from(i).without_internal_fields())
            .collect())
    }

    pub async fn set_origins(&self, project_id: &str, origins: Vec<String>) -> EngineResult<Vec<String>> {
        if origins.len() > 100 {
            return Err(EngineError::Invalid("at most 100 origins".into()));
        }
        if let Some(bad) = origins.iter().find(|o| !crate::policy::is_origin(o)) {
            return Err(EngineError::Invalid(format!("{bad:?} is not an origin like https://app.example")));
        }
        self.require_project(project_id).await?;
        let (project_id, stored) = (project_id.to_owned(), origins.clone());
        self.store
            .run(|tx| {
                let (project_id, origins) = (project_id.clone(), stored.clone());
                async move {
                    let mut project = project::get(&tx, &project_id)
                        .await?
                        .ok_or(crate::model::RecordError::NotFound("project"))?;
                    project.origins = origins;
                    project::put(&tx, &project)
                }
            })
            .await?;
        Ok(origins)
    }
}

impl IntegrationView {
    fn without_internal_fields(mut self) -> Self {
        if let serde_json::Value::Object(map) = &mut self.config {
            map.remove(HOSTS_FIELD);
            map.remove(CLIENT_AUTH_FIELD);
        }
        self
    }
}
