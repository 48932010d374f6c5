//! Administration: the operator's writes and reads of projects, API keys,
//! agents, integrations and allowed origins (`Admin`), and what the rooms that
//! call a provider's plugin need of an integration (`Providers`).

use std::sync::Arc;

use serde::Serialize;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::catalog::AuthMode;
use crate::catalog::{Catalog, ConnectionParam, ParamSource, ParamValues, params, serving};
use crate::credentials::{Credentials, Spec, jwt, verify};
use crate::error::{EngineError, EngineResult};
use crate::http_client::HttpClient;
use crate::model::agent::{self, Agent};
use crate::model::connection::TokenSet;
use crate::model::integration::{self, Integration, IntegrationDraft};
use crate::model::{api_key, project};
use crate::plugins::{CallTarget, Plugin, PluginError, PluginHost, ProviderFailure};
use crate::policy::Site;
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

/// What `put_integration` stores next to the configuration: the hosts it needs.
pub(crate) const HOSTS_FIELD: &str = "__securixHosts";
/// Where the client authenticates for this configuration, as the plugin checked it.
pub(crate) const CLIENT_AUTH_FIELD: &str = "__securixClientAuth";

/// The provider plugins and what a call to one needs of an integration: its
/// configuration, its hosts, and its OAuth client (the secret unsealed by the
/// vault). Cheap to clone; the flows, tokens and the proxy each hold one.
#[derive(Clone)]
pub(crate) struct Providers {
    plugins: Arc<PluginHost>,
    catalog: Catalog,
    vault: Vault,
    /// The redirect URI registered at providers.
    redirect_uri: Arc<str>,
    /// Verifies credentials users bring (`credentials::verify`), within `timeout`.
    http: HttpClient,
    timeout: Duration,
}

impl Providers {
    pub fn new(
        plugins: Arc<PluginHost>,
        catalog: Catalog,
        vault: Vault,
        public_url: &str,
        http: HttpClient,
        timeout: Duration,
    ) -> Self {
        let redirect_uri = format!("{public_url}/oauth/callback").into();
        Providers { plugins, catalog, vault, redirect_uri, http, timeout }
    }

    /// The scopes a session asks for when neither it nor the integration names any:
    /// the serving plugin's. None for a catalog entry served from data (its own
    /// defaults were the integration's; the generic plugin's OpenID scopes are not
    /// the provider's) nor for a credential provider.
    pub fn default_scopes(&self, integration: &Integration) -> Result<Vec<String>, PluginError> {
        if integration.plugin.as_deref() == Some(serving::GENERIC_PLUGIN)
            || Spec::of(&integration.config).is_some()
        {
            return Ok(Vec::new());
        }
        Ok(self.of_integration(integration)?.info().default_scopes.clone())
    }

    /// How an integration takes credentials, if it is served by them rather than
    /// by a plugin (`api_key`, `basic`).
    pub fn credential_spec(&self, integration: &Integration) -> Option<EngineResult<Spec>> {
        Spec::of(&integration.config).map(|spec| spec.map_err(|e| EngineError::Invalid(e.to_string())))
    }

    /// The typed credentials, checked at the provider for a connection with `values`,
    /// as the connection vaults them: a `jwt` key with the first token it was
    /// exchanged for, other credentials as they are.
    pub async fn verify_credentials(
        &self,
        integration: &Integration,
        spec: &Spec,
        values: &ParamValues,
        typed: &BTreeMap<String, SecretString>,
        now: Timestamp,
    ) -> EngineResult<(Credentials, TokenSet)> {
        let credentials = spec.accept(typed)?;
        if spec.mode == AuthMode::Jwt {
            let tokens = self.mint(integration, spec, values, &credentials, now).await?;
            return Ok((credentials, tokens));
        }
        let api = self.credential_api(integration, values).await?;
        verify::verify(&self.http, &api.base_url, spec, &credentials, self.timeout).await?;
        let tokens = credentials.sealed();
        Ok((credentials, tokens))
    }

    /// A `jwt` connection's token set: an access token taken with an assertion the
    /// key signs, the key kept in the refresh-token slot to take the next one.
    pub async fn mint(
        &self,
        integration: &Integration,
        spec: &Spec,
        values: &ParamValues,
        credentials: &Credentials,
        now: Timestamp,
    ) -> EngineResult<TokenSet> {
        let target = self.target(integration, values).await?;
        let config: serde_json::Value = serde_json::from_str(&target.config).unwrap_or_default();
        let token_url = config.get("tokenUrl").and_then(|v| v.as_str()).unwrap_or_default();
        let minted =
            jwt::mint(&self.http, spec, credentials, token_url, &integration.scopes, now, self.timeout)
                .await?;
        Ok(TokenSet {
            access_token: minted.access_token,
            refresh_token: Some(credentials.sealed().access_token),
            id_token: None,
            token_type: "jwt".into(),
            expires_at: Some(minted.expires_at),
        })
    }

    /// A credential provider's API for a connection with `values`: its `apiBaseUrl`
    /// (its host still one the configuration allows) and `apiHeaders`, filled in.
    pub async fn credential_api(
        &self,
        integration: &Integration,
        values: &ParamValues,
    ) -> EngineResult<CredentialApi> {
        let target = self.target(integration, values).await?;
        let config: serde_json::Value = serde_json::from_str(&target.config).unwrap_or_default();
        let headers = config.get("apiHeaders").and_then(|h| h.as_object());
        Ok(CredentialApi {
            base_url: config.get("apiBaseUrl").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
            headers: (headers.into_iter().flatten())
                .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                .collect(),
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The plugin of a provider an operator names (an unknown one is their mistake).
    pub fn get(&self, provider: &str) -> Result<Arc<Plugin>, PluginError> {
        self.plugins.get(provider)
    }

    /// The plugin a stored integration needs: one that is not loaded (its file
    /// removed, renamed or left out) is unavailable, not the caller's mistake.
    pub fn of_integration(&self, integration: &Integration) -> Result<Arc<Plugin>, PluginError> {
        self.plugins.get(integration.plugin_id()).map_err(|error| match error {
            PluginError::UnknownPlugin(plugin) => {
                PluginError::Unavailable { plugin, reason: "no plugin with this id is loaded".into() }
            }
            other => other,
        })
    }

    /// An integration with what a plugin call for one connection needs: its
    /// configuration, hosts and client-auth endpoints with the connection's params
    /// filled in (each host still one the configuration allows), and the client.
    /// Before the grant, params that come from it stay placeholders: a host or
    /// endpoint naming one is left out (nothing reaches it), and the token answer
    /// fields to read are named.
    pub async fn target(&self, integration: &Integration, values: &ParamValues) -> EngineResult<CallTarget> {
        let all = serving::connection_params(&integration.config);
        let known = |p: &&ConnectionParam| p.from == ParamSource::User || values.contains_key(&p.name);
        let declared: Vec<String> = all.iter().filter(known).map(|p| p.name.clone()).collect();
        let fill = |text: &str| params::fill(text, &declared, values);
        let strings = |field: &str| -> EngineResult<Vec<String>> {
            let list = integration.config.get(field).and_then(|h| h.as_array());
            let filled: Result<Vec<String>, _> =
                list.into_iter().flatten().filter_map(|h| h.as_str()).map(fill).collect();
            Ok(filled?.into_iter().filter(|h| all.is_empty() || params::names_in(h).is_empty()).collect())
        };
        let hosts = strings(HOSTS_FIELD)?;
        check_allowed_hosts(&integration.config, &hosts)?;
        let mut config = integration.config.clone();
        if let serde_json::Value::Object(map) = &mut config {
            map.remove(HOSTS_FIELD);
            map.remove(CLIENT_AUTH_FIELD);
        }
        Ok(CallTarget {
            config: fill(&config.to_string())?,
            hosts,
            client_auth_endpoints: strings(CLIENT_AUTH_FIELD)?,
            client: crate::plugins::OAuthClient {
                client_id: integration.client_id.clone(),
                client_secret: integration.client_secret(&self.vault).await?,
                redirect_uri: self.redirect_uri.to_string(),
            },
            token_fields: all
                .iter()
                .filter(|p| p.from == ParamSource::Token && !values.contains_key(&p.name))
                .filter_map(|p| p.field.clone())
                .collect(),
        })
    }
}

/// Where a credential provider's calls go, and the headers each carries.
pub(crate) struct CredentialApi {
    pub base_url: String,
    pub headers: Vec<(String, String)>,
}

/// Refuses a site (as `Site` writes it) whose host the configuration's
/// `allowedHosts`, if it names any, does not allow.
fn check_allowed_hosts(config: &serde_json::Value, sites: &[String]) -> EngineResult<()> {
    let Some(allowed) = serving::allowed_hosts(config) else { return Ok(()) };
    let allows = |site: &String| {
        Site::parse(site).is_ok_and(|site| crate::catalog::contract::host_allowed(site.host(), &allowed))
    };
    match sites.iter().find(|site| !allows(site)) {
        Some(site) => {
            Err(EngineError::Invalid(format!("{site} is not among the configuration's allowedHosts")))
        }
        None => Ok(()),
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
                async move { api_key::issue(&tx, &p, &n, now) }
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
        integrations: Option<Vec<String>>,
    ) -> EngineResult<Agent> {
        self.require_project(project_id).await?;
        let agent = Agent {
            project_id: project_id.to_owned(),
            agent_id: agent_id.to_owned(),
            integrations,
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

    /// Enables a provider in a project. The plugin checks the configuration first
    /// (and resolves OIDC discovery), so a broken integration is refused up front.
    pub async fn put_integration(
        &self,
        project_id: &str,
        draft: IntegrationDraft,
    ) -> EngineResult<IntegrationView> {
        self.require_project(project_id).await?;
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
