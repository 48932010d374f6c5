//! What the rooms that call a provider need of an integration (`Providers`): its
//! plugin, its configuration with a connection's params filled in, its OAuth client,
//! and for the credential modes the host serves itself, their checks and tokens.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::{AuthMode, Catalog, ConnectionParam, ParamSource, ParamValues, params, serving};
use crate::credentials::{Credentials, Spec, jwt, verify};
use crate::error::{EngineError, EngineResult};
use crate::http_client::HttpClient;
use crate::model::connection::TokenSet;
use crate::model::integration::Integration;
use crate::plugins::{CallTarget, Plugin, PluginError, PluginHost};
use crate::policy::Site;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;
use crate::vault::Vault;

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

    /// Registers SecuriX at the authorization server of the MCP server at `url`
    /// (`remote_mcp`), with the redirect URI every provider is given.
    pub async fn register_at_mcp_server(&self, url: &str) -> EngineResult<crate::remote_mcp::Registered> {
        let outbound = crate::remote_mcp::Outbound { http: &self.http, timeout: self.timeout };
        crate::remote_mcp::register(&outbound, url, &self.redirect_uri).await
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
        self.check_credentials(integration, spec, values, &credentials).await?;
        let tokens = credentials.sealed();
        Ok((credentials, tokens))
    }

    /// Makes the entry's `verify` call with `credentials`: `CredentialsRejected`
    /// when the provider refuses them.
    pub async fn check_credentials(
        &self,
        integration: &Integration,
        spec: &Spec,
        values: &ParamValues,
        credentials: &Credentials,
    ) -> EngineResult<()> {
        let api = self.credential_api(integration, values).await?;
        verify::verify(&self.http, &api.base_url, spec, credentials, self.timeout).await?;
        Ok(())
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
pub(crate) fn check_allowed_hosts(config: &serde_json::Value, sites: &[String]) -> EngineResult<()> {
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
