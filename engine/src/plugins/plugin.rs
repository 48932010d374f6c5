//! One loaded plugin and its typed calls. Each call gets a fresh `Store` from the
//! plugin's `InstancePre`: nothing survives between calls, and a call that traps,
//! loops or runs out of memory takes nothing else down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Semaphore;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::current::securix::provider::types as wit;
use super::client_secret::{CLIENT_SECRET_PLACEHOLDER, ClientAuthEndpoint, ClientSecret};
use super::epoch_ticker::EpochTicker;
use super::fetch::{FetchScope, Fetcher};
use super::guest::{Guest, GuestPre};
use super::host_state::HostState;
use super::output::{Caps, MAX_LIFTED, MAX_URL, cut_message};
use super::types::{
    AccountIdentity, ApiTarget, AuthorizeParams, CallTarget, IssuedTokens, ProviderInfo, ValidatedConfig,
};
use super::{PluginError, PluginLimits, ProviderFailure};
use crate::policy::Site;
use crate::util::secret::SecretString;

type CallFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

/// Whether a call authenticates the client, and so may send its secret.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Authenticates {
    Client,
    No,
}

pub struct Plugin {
    pub(super) info: ProviderInfo,
    /// `info.allowed_hosts`, parsed.
    pub(super) sites: Vec<Site>,
    /// Where the client authenticates for any configuration (`info`).
    pub(super) client_auth: Vec<ClientAuthEndpoint>,
    pub(super) pre: GuestPre,
    pub(super) engine: wasmtime::Engine,
    pub(super) fetcher: Arc<Fetcher>,
    pub(super) limits: PluginLimits,
    /// Shared by every plugin: instances the host keeps ready.
    pub(super) permits: Arc<Semaphore>,
    /// This plugin's own bound, so a flood through it leaves the shared ones to others.
    pub(super) own_permits: Arc<Semaphore>,
    pub(super) ticker: Arc<EpochTicker>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("id", &self.info.id).field("wit", &self.info.wit).finish()
    }
}

fn failure(plugin: &str, error: wit::ProviderError, state: &HostState) -> PluginError {
    let say = |message: String| state.redact(&cut_message(message));
    let failure = match error {
        wit::ProviderError::InvalidConfig(m) => ProviderFailure::InvalidConfig(say(m)),
        wit::ProviderError::InvalidGrant(m) => ProviderFailure::InvalidGrant(say(m)),
        wit::ProviderError::InvalidClient(m) => ProviderFailure::InvalidClient(say(m)),
        wit::ProviderError::AccessDenied(m) => ProviderFailure::AccessDenied(say(m)),
        wit::ProviderError::InvalidScope(m) => ProviderFailure::InvalidScope(say(m)),
        wit::ProviderError::Transient(m) => ProviderFailure::Transient(say(m)),
        wit::ProviderError::Unsupported(m) => ProviderFailure::Unsupported(say(m)),
        wit::ProviderError::Protocol(m) => ProviderFailure::Protocol(say(m)),
    };
    PluginError::Provider { plugin: plugin.to_owned(), failure }
}

fn tokens(issued: wit::TokenSet) -> IssuedTokens {
    IssuedTokens {
        access_token: SecretString::new(issued.access_token),
        refresh_token: issued.refresh_token.map(SecretString::new),
        id_token: issued.id_token.map(SecretString::new),
        token_type: issued.token_type,
        expires_in: issued.expires_in,
        scopes: issued.scopes,
        fields: Default::default(),
    }
}

impl Plugin {
    pub fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn client(target: &CallTarget) -> wit::Client {
        wit::Client {
            client_id: target.client.client_id.clone(),
            client_secret: CLIENT_SECRET_PLACEHOLDER.to_owned(),
            redirect_uri: target.client.redirect_uri.clone(),
        }
    }

    fn token_request(target: &CallTarget, access_token: &SecretString) -> wit::TokenRequest {
        wit::TokenRequest {
            config: target.config.clone(),
            client: Self::client(target),
            access_token: access_token.expose().to_owned(),
        }
    }

    /// What a call for `target` may reach, and where its client secret may go.
    fn scope(&self, target: &CallTarget, authenticates: Authenticates) -> FetchScope {
        // Stored sites were checked when the integration was put; one that no longer
        // parses reaches nothing.
        let sites = self.sites.iter().cloned().chain(target.hosts.iter().filter_map(|h| Site::parse(h).ok()));
        let endpoints = self
            .client_auth
            .iter()
            .cloned()
            .chain(target.client_auth_endpoints.iter().filter_map(|e| ClientAuthEndpoint::parse(e)))
            .collect();
        let secret = target.client.client_secret.clone();
        FetchScope {
            sites: sites.collect(),
            exact_urls: Vec::new(),
            client_secret: ClientSecret::new(secret, authenticates == Authenticates::Client, endpoints),
            token_fields: Vec::new(),
        }
    }

    /// Runs one call in a fresh store under the limits, mapping sandbox failures.
    async fn run<R: Send>(
        &self,
        scope: FetchScope,
        redact: Vec<SecretString>,
        call: impl for<'a> FnOnce(&'a mut Store<HostState>, &'a Guest) -> CallFuture<'a, R> + Send,
    ) -> Result<(R, HostState), PluginError> {
        let plugin = self.info.id.clone();
        let closed = |_| PluginError::Load("plugin host is shutting down".into());
        let _own = self.own_permits.acquire().await.map_err(closed)?;
        let _shared = self.permits.acquire().await.map_err(closed)?;
        let _ticking = self.ticker.running();
        let state = HostState::new(plugin.clone(), self.fetcher.clone(), scope, redact, &self.limits);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state);
        // What wasmtime may copy out of the guest in one crossing (an answer, or a
        // `fetch` request): a guest cannot make the host allocate more, whatever
        // its lists point at (many entries sharing one buffer would otherwise
        // multiply). Every value is capped far below this anyway.
        let lifted = self.fetcher.policy.max_request_bytes.saturating_add(MAX_LIFTED);
        store.set_hostcall_fuel(lifted);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut context| {
            Ok(if context.data_mut().cpu_check() {
                UpdateDeadline::Yield(1)
            } else {
                UpdateDeadline::Interrupt
            })
        });
        let outcome = {
            let work = async {
                let instance = self.pre.instantiate(&mut store).await?;
                call(&mut store, &instance).await
            };
            tokio::time::timeout(self.limits.wall, work).await
        };
        if let Some(why) = store.data().misplaced_secret.clone() {
            return Err(PluginError::SecretMisplaced { plugin, why });
        }
        match outcome {
            Err(_) => Err(PluginError::Timeout { plugin, limit_ms: self.limits.wall.as_millis() as u64 }),
            // The store (and its pooled instance slot) ends here, before the permits do.
            Ok(Ok(value)) => Ok((value, store.into_data())),
            Ok(Err(error)) => {
                let state = store.data();
                Err(if state.memory_exceeded {
                    PluginError::MemoryLimit { plugin, limit_bytes: self.limits.memory_bytes }
                } else if state.cpu_exceeded {
                    PluginError::CpuLimit { plugin, limit_ms: self.limits.cpu.as_millis() as u64 }
                } else if format!("{error:#}").contains("fuel allocated for hostcalls has been exhausted") {
                    // wasmtime's own words: its error type for this is private.
                    PluginError::OverCap {
                        plugin,
                        what: "more data in one answer or request than".into(),
                        limit: lifted,
                    }
                } else {
                    let message = match error.downcast_ref::<wasmtime::Trap>() {
                        Some(trap) => trap.to_string(),
                        None => error.to_string(),
                    };
                    PluginError::Trap { plugin, message: state.redact(&cut_message(message)) }
                })
            }
        }
    }

    /// Static facts, read through a real call (used once, at load).
    pub(super) async fn call_info(&self) -> Result<wit::ProviderInfo, PluginError> {
        let (info, _) = self
            .run(FetchScope::default(), Vec::new(), |store, plugin| {
                Box::pin(async move { plugin.info(store).await })
            })
            .await?;
        Ok(info)
    }

    /// Checks an integration's configuration. The plugin may fetch only its static
    /// sites and, if the configuration names one, the OIDC `discoveryUrl`. The sites
    /// and client-auth endpoints the configuration adds are checked here, once.
    #[tracing::instrument(name = "plugin.validate_config", skip_all, fields(plugin = %self.info.id))]
    pub async fn validate_config(&self, config: &str) -> Result<ValidatedConfig, PluginError> {
        let operator: serde_json::Value = serde_json::from_str(config).unwrap_or_default();
        let discovery = operator.get("discoveryUrl").and_then(|v| v.as_str()).map(str::to_owned);
        let scope = FetchScope {
            sites: self.sites.clone(),
            exact_urls: discovery.into_iter().collect(),
            ..FetchScope::default()
        };
        let text = config.to_owned();
        let (result, state) = self
            .run(scope, Vec::new(), |store, plugin| {
                Box::pin(async move { plugin.validate_config(store, &text).await })
            })
            .await?;
        let info = result.map_err(|e| failure(&self.info.id, e, &state))?;
        self.caps().config(&info)?;
        let mut hosts = Vec::with_capacity(info.hosts.len());
        for host in &info.hosts {
            let site = Site::parse(host)
                .map_err(|_| self.bad_output(format!("a site it cannot name ({host:?})")))?;
            hosts.push(site.to_string());
        }
        let discovered: Option<serde_json::Value> =
            state.discovery.as_deref().and_then(|body| serde_json::from_slice(body).ok());
        for endpoint in &info.client_auth_endpoints {
            let pattern = ClientAuthEndpoint::parse(endpoint).ok_or_else(|| {
                self.bad_output(format!("a client-auth endpoint that is not a URL ({endpoint:?})"))
            })?;
            let declared = self.client_auth.iter().any(|known| {
                known == &pattern || url::Url::parse(endpoint).is_ok_and(|url| known.matches(&url))
            });
            let named = names(&operator, endpoint)
                || discovered.as_ref().is_some_and(|document| {
                    ["token_endpoint", "revocation_endpoint"]
                        .iter()
                        .any(|field| document.get(field).and_then(|v| v.as_str()) == Some(endpoint))
                });
            if !(declared || named) {
                return Err(self.bad_output(format!(
                    "a client-auth endpoint neither it declares nor the configuration names ({endpoint})"
                )));
            }
        }
        Ok(ValidatedConfig { config: info.config, hosts, client_auth_endpoints: info.client_auth_endpoints })
    }

    fn caps(&self) -> Caps<'_> {
        Caps { plugin: &self.info.id }
    }

    fn bad_output(&self, what: String) -> PluginError {
        PluginError::BadOutput { plugin: self.info.id.clone(), what }
    }

    /// The consent URL. It must be https (or allowed loopback http) on a site this
    /// integration declared, so a plugin cannot send users elsewhere.
    #[tracing::instrument(name = "plugin.authorize_url", skip_all, fields(plugin = %self.info.id))]
    pub async fn authorize_url(
        &self,
        target: &CallTarget,
        params: AuthorizeParams,
    ) -> Result<String, PluginError> {
        let request = wit::AuthorizeRequest {
            config: target.config.clone(),
            client: Self::client(target),
            scopes: params.scopes,
            state: params.state,
            code_challenge: params.code_challenge,
            login_hint: params.login_hint,
        };
        let (result, state) = self
            .run(self.scope(target, Authenticates::No), Vec::new(), |store, plugin| {
                Box::pin(async move { plugin.authorize_url(store, &request).await })
            })
            .await?;
        let url = result.map_err(|e| failure(&self.info.id, e, &state))?;
        self.caps().text("an authorize URL", &url, MAX_URL)?;
        self.check_declared_url(target, &url)?;
        Ok(url)
    }

    fn check_declared_url(&self, target: &CallTarget, url: &str) -> Result<(), PluginError> {
        // A URL parser drops line breaks, which would then reach a `Location` header.
        let parsed = match self.fetcher.policy.outbound().parse_for_browser(url) {
            Err(crate::policy::PolicyError::Malformed) => {
                return Err(self.bad_output("a malformed URL (or one with control characters)".to_owned()));
            }
            parsed => parsed.ok(),
        };
        let site = parsed.as_ref().and_then(Site::of);
        match site {
            Some(site)
                if self.sites.contains(&site)
                    || target.hosts.iter().any(|h| Site::parse(h).as_ref() == Ok(&site)) =>
            {
                Ok(())
            }
            _ => Err(self.bad_output(format!(
                "a URL on an undeclared site ({})",
                site.map(|s| s.to_string()).unwrap_or_default()
            ))),
        }
    }

    /// A GET the host makes itself with a new access token, for a connection param
    /// the provider names only in another answer (Atlassian's accessible resources):
    /// through the same door as the plugin's own fetches (the integration's sites,
    /// the policy, the timeout and size caps), the token placed as the
    /// configuration's `accessToken` says (by default `Authorization: Bearer`).
    #[tracing::instrument(name = "plugin.read_with_token", skip_all, fields(plugin = %self.info.id))]
    pub async fn read_with_token(
        &self,
        target: &CallTarget,
        url: &str,
        access_token: &SecretString,
    ) -> Result<serde_json::Value, PluginError> {
        let config: serde_json::Value = serde_json::from_str(&target.config).unwrap_or_default();
        let placement = config.get("accessToken");
        let field = |name: &str| placement.and_then(|p| p.get(name)).and_then(|v| v.as_str());
        let header = wit::Header {
            name: field("name").unwrap_or("authorization").to_owned(),
            value: format!("{}{}", field("prefix").unwrap_or("Bearer "), access_token.expose()),
        };
        let accept = wit::Header { name: "accept".into(), value: "application/json".into() };
        let request = wit::HttpRequest {
            method: "GET".into(),
            url: url.to_owned(),
            headers: vec![header, accept],
            body: Vec::new(),
        };
        let failed = |failure| PluginError::Provider { plugin: self.info.id.clone(), failure };
        let answer = match self.fetcher.fetch(&self.scope(target, Authenticates::No), request).await {
            Ok(answer) => answer,
            Err(super::fetch::FetchFailure::Guest(error)) => {
                return Err(failed(ProviderFailure::Transient(format!("reading {url}: {error:?}"))));
            }
            Err(super::fetch::FetchFailure::Misplaced(_)) => {
                return Err(failed(ProviderFailure::Protocol(format!("reading {url} was refused"))));
            }
        };
        match answer.status {
            200..=299 => serde_json::from_slice(&answer.body)
                .map_err(|_| failed(ProviderFailure::Protocol(format!("{url} did not answer JSON")))),
            500.. => Err(failed(ProviderFailure::Transient(format!("{url} answered {}", answer.status)))),
            status => Err(failed(ProviderFailure::Protocol(format!("{url} answered {status}")))),
        }
    }

    #[tracing::instrument(name = "plugin.exchange_code", skip_all, fields(plugin = %self.info.id))]
    pub async fn exchange_code(
        &self,
        target: &CallTarget,
        code: &str,
        code_verifier: Option<&str>,
    ) -> Result<IssuedTokens, PluginError> {
        let request = wit::CodeExchange {
            config: target.config.clone(),
            client: Self::client(target),
            code: code.to_owned(),
            code_verifier: code_verifier.map(str::to_owned),
        };
        let redact = vec![SecretString::new(code)];
        let scope = FetchScope {
            token_fields: target.token_fields.clone(),
            ..self.scope(target, Authenticates::Client)
        };
        let (result, state) = self
            .run(scope, redact, |store, plugin| {
                Box::pin(async move { plugin.exchange_code(store, &request).await })
            })
            .await?;
        let issued = result.map_err(|e| failure(&self.info.id, e, &state))?;
        self.caps().tokens(&issued)?;
        Ok(IssuedTokens { fields: state.token_fields, ..tokens(issued) })
    }

    #[tracing::instrument(name = "plugin.refresh", skip_all, fields(plugin = %self.info.id))]
    pub async fn refresh(
        &self,
        target: &CallTarget,
        refresh_token: &SecretString,
        scopes: &[String],
    ) -> Result<IssuedTokens, PluginError> {
        let request = wit::RefreshRequest {
            config: target.config.clone(),
            client: Self::client(target),
            refresh_token: refresh_token.expose().to_owned(),
            scopes: scopes.to_vec(),
        };
        let (result, state) = self
            .run(self.scope(target, Authenticates::Client), vec![refresh_token.clone()], |store, plugin| {
                Box::pin(async move { plugin.refresh(store, &request).await })
            })
            .await?;
        let issued = result.map_err(|e| failure(&self.info.id, e, &state))?;
        self.caps().tokens(&issued)?;
        Ok(tokens(issued))
    }

    #[tracing::instrument(name = "plugin.identity", skip_all, fields(plugin = %self.info.id))]
    pub async fn identity(
        &self,
        target: &CallTarget,
        access_token: &SecretString,
    ) -> Result<AccountIdentity, PluginError> {
        let request = Self::token_request(target, access_token);
        let (result, state) = self
            .run(self.scope(target, Authenticates::No), vec![access_token.clone()], |store, plugin| {
                Box::pin(async move { plugin.identity(store, &request).await })
            })
            .await?;
        let identity = result.map_err(|e| failure(&self.info.id, e, &state))?;
        self.caps().identity(&identity)?;
        Ok(AccountIdentity { account_id: identity.account_id, email: identity.email, name: identity.name })
    }

    /// Where to send proxied calls; the base URL must be on a declared site.
    #[tracing::instrument(name = "plugin.proxy_target", skip_all, fields(plugin = %self.info.id))]
    pub async fn proxy_target(
        &self,
        target: &CallTarget,
        access_token: &SecretString,
    ) -> Result<ApiTarget, PluginError> {
        let request = Self::token_request(target, access_token);
        let (result, state) = self
            .run(self.scope(target, Authenticates::No), vec![access_token.clone()], |store, plugin| {
                Box::pin(async move { plugin.proxy_target(store, &request).await })
            })
            .await?;
        let api = result.map_err(|e| failure(&self.info.id, e, &state))?;
        self.caps().api_target(&api)?;
        self.check_declared_url(target, &api.base_url)?;
        let headers = api.headers.into_iter().map(|h| (h.name, SecretString::new(h.value))).collect();
        Ok(ApiTarget { base_url: api.base_url, headers })
    }

    #[tracing::instrument(name = "plugin.revoke", skip_all, fields(plugin = %self.info.id))]
    pub async fn revoke(
        &self,
        target: &CallTarget,
        access_token: &SecretString,
        refresh_token: Option<&SecretString>,
    ) -> Result<(), PluginError> {
        let request = wit::RevokeRequest {
            config: target.config.clone(),
            client: Self::client(target),
            access_token: access_token.expose().to_owned(),
            refresh_token: refresh_token.map(|t| t.expose().to_owned()),
        };
        let redact = std::iter::once(access_token.clone()).chain(refresh_token.cloned()).collect();
        let (result, state) = self
            .run(self.scope(target, Authenticates::Client), redact, |store, plugin| {
                Box::pin(async move { plugin.revoke(store, &request).await })
            })
            .await?;
        result.map_err(|e| failure(&self.info.id, e, &state))
    }
}

/// Keys under which an operator's configuration names where the client authenticates.
const CLIENT_AUTH_KEYS: &[&str] =
    &["tokenEndpoint", "revocationEndpoint", "tokenUrl", "revocationUrl", "clientAuthEndpoints"];

/// Whether the operator's configuration names `value` as a client-auth endpoint
/// (under one of `CLIENT_AUTH_KEYS`; any other URL in it is for something else).
fn names(config: &serde_json::Value, value: &str) -> bool {
    CLIENT_AUTH_KEYS.iter().filter_map(|key| config.get(key)).any(|named| match named {
        serde_json::Value::String(text) => text == value,
        serde_json::Value::Array(items) => items.iter().any(|item| item.as_str() == Some(value)),
        _ => false,
    })
}
