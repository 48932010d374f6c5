//! One loaded plugin and its typed calls. Each call gets a fresh `Store` from the
//! plugin's `InstancePre`: nothing survives between calls, and a call that traps,
//! loops or runs out of memory takes nothing else down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Semaphore;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::v0_1_0::securix::provider::types as wit;
use super::bindings::v0_1_0::{ProviderPlugin, ProviderPluginPre};
use super::epoch_ticker::EpochTicker;
use super::fetch::{CLIENT_SECRET_PLACEHOLDER, FetchScope, Fetcher};
use super::host_state::HostState;
use super::types::{
    AccountIdentity, ApiTarget, AuthorizeParams, CallTarget, IssuedTokens, ProviderInfo, ValidatedConfig,
};
use super::{PluginError, PluginLimits, ProviderFailure};
use crate::util::secret::SecretString;

type CallFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

pub struct Plugin {
    pub(super) info: ProviderInfo,
    pub(super) pre: ProviderPluginPre<HostState>,
    pub(super) engine: wasmtime::Engine,
    pub(super) fetcher: Arc<Fetcher>,
    pub(super) limits: PluginLimits,
    pub(super) permits: Arc<Semaphore>,
    pub(super) ticker: Arc<EpochTicker>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("id", &self.info.id).field("wit", &self.info.wit).finish()
    }
}

fn failure(plugin: &str, error: wit::ProviderError, state: &HostState) -> PluginError {
    let failure = match error {
        wit::ProviderError::InvalidConfig(m) => ProviderFailure::InvalidConfig(state.redact(&m)),
        wit::ProviderError::InvalidGrant(m) => ProviderFailure::InvalidGrant(state.redact(&m)),
        wit::ProviderError::InvalidClient(m) => ProviderFailure::InvalidClient(state.redact(&m)),
        wit::ProviderError::AccessDenied(m) => ProviderFailure::AccessDenied(state.redact(&m)),
        wit::ProviderError::InvalidScope(m) => ProviderFailure::InvalidScope(state.redact(&m)),
        wit::ProviderError::Transient(m) => ProviderFailure::Transient(state.redact(&m)),
        wit::ProviderError::Unsupported(m) => ProviderFailure::Unsupported(state.redact(&m)),
        wit::ProviderError::Protocol(m) => ProviderFailure::Protocol(state.redact(&m)),
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

    /// The hosts a call for `target` may reach: the plugin's own and its configuration's.
    fn scope(&self, target: &CallTarget, with_secret: bool) -> FetchScope {
        let hosts =
            self.info.allowed_hosts.iter().chain(&target.hosts).map(|h| h.to_ascii_lowercase()).collect();
        let client_secret = with_secret.then(|| target.client.client_secret.clone());
        FetchScope { hosts, exact_urls: Vec::new(), client_secret }
    }

    /// Runs one call in a fresh store under the limits, mapping sandbox failures.
    async fn run<R: Send>(
        &self,
        scope: FetchScope,
        redact: Vec<SecretString>,
        call: impl for<'a> FnOnce(&'a mut Store<HostState>, &'a ProviderPlugin) -> CallFuture<'a, R> + Send,
    ) -> Result<(R, Store<HostState>), PluginError> {
        let plugin = self.info.id.clone();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PluginError::Load("plugin host is shutting down".into()))?;
        let _ticking = self.ticker.running();
        let state = HostState::new(plugin.clone(), self.fetcher.clone(), scope, redact, &self.limits);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state);
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
                let instance = self.pre.instantiate_async(&mut store).await?;
                call(&mut store, &instance).await
            };
            tokio::time::timeout(self.limits.wall, work).await
        };
        match outcome {
            Err(_) => Err(PluginError::Timeout { plugin, limit_ms: self.limits.wall.as_millis() as u64 }),
            Ok(Ok(value)) => Ok((value, store)),
            Ok(Err(error)) => {
                let state = store.data();
                Err(if state.memory_exceeded {
                    PluginError::MemoryLimit { plugin, limit_bytes: self.limits.memory_bytes }
                } else if state.cpu_exceeded {
                    PluginError::CpuLimit { plugin, limit_ms: self.limits.cpu.as_millis() as u64 }
                } else {
                    let message = match error.downcast_ref::<wasmtime::Trap>() {
                        Some(trap) => trap.to_string(),
                        None => error.to_string(),
                    };
                    PluginError::Trap { plugin, message: state.redact(&message) }
                })
            }
        }
    }

    /// Static facts, read through a real call (used once, at load).
    pub(super) async fn call_info(&self) -> Result<wit::ProviderInfo, PluginError> {
        let (info, _) = self
            .run(FetchScope::default(), Vec::new(), |store, plugin| {
                Box::pin(async move { plugin.securix_provider_provider().call_info(store).await })
            })
            .await?;
        Ok(info)
    }

    /// Checks an integration's configuration. The plugin may fetch only its static
    /// hosts and, if the configuration names one, the OIDC `discoveryUrl`.
    #[tracing::instrument(name = "plugin.validate_config", skip_all, fields(plugin = %self.info.id))]
    pub async fn validate_config(&self, config: &str) -> Result<ValidatedConfig, PluginError> {
        let discovery = serde_json::from_str::<serde_json::Value>(config)
            .ok()
            .and_then(|json| json.get("discoveryUrl").and_then(|v| v.as_str()).map(str::to_owned));
        let scope = FetchScope {
            hosts: self.info.allowed_hosts.iter().cloned().collect(),
            exact_urls: discovery.into_iter().collect(),
            client_secret: None,
        };
        let config = config.to_owned();
        let (result, store) = self
            .run(scope, Vec::new(), |store, plugin| {
                Box::pin(async move {
                    plugin.securix_provider_provider().call_validate_config(store, &config).await
                })
            })
            .await?;
        let info = result.map_err(|e| failure(&self.info.id, e, store.data()))?;
        Ok(ValidatedConfig {
            config: info.config,
            hosts: info.hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
        })
    }

    /// The consent URL. It must be https (or allowed loopback http) on a host this
    /// integration declared, so a plugin cannot send users elsewhere.
    #[tracing::instrument(name = "plugin.authorize_url", skip_all, fields(plugin = %self.info.id))]
    pub async fn authorize_url(
        &self,
        target: &CallTarget,
        params: AuthorizeParams,
    ) -> Result<String, PluginError> {
        let scope = self.scope(target, false);
        let request = wit::AuthorizeRequest {
            config: target.config.clone(),
            client: Self::client(target),
            scopes: params.scopes,
            state: params.state,
            code_challenge: params.code_challenge,
            login_hint: params.login_hint,
        };
        let (result, store) = self
            .run(scope, Vec::new(), |store, plugin| {
                Box::pin(async move {
                    plugin.securix_provider_provider().call_authorize_url(store, &request).await
                })
            })
            .await?;
        let url = result.map_err(|e| failure(&self.info.id, e, store.data()))?;
        self.check_declared_url(target, &url)?;
        Ok(url)
    }

    fn check_declared_url(&self, target: &CallTarget, url: &str) -> Result<(), PluginError> {
        // A URL parser drops line breaks, which would then reach a `Location` header.
        let parsed = match self.fetcher.policy.outbound().parse_for_browser(url) {
            Err(crate::policy::PolicyError::Malformed) => {
                let what = "a malformed URL (or one with control characters)".to_owned();
                return Err(PluginError::BadOutput { plugin: self.info.id.clone(), what });
            }
            parsed => parsed.ok(),
        };
        let scope = self.scope(target, false);
        let host =
            parsed.as_ref().and_then(|u| u.host_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        if parsed.is_some() && scope.hosts.contains(&host) {
            Ok(())
        } else {
            Err(PluginError::Provider {
                plugin: self.info.id.clone(),
                failure: ProviderFailure::Protocol(format!(
                    "the plugin named a URL on an undeclared host ({host})"
                )),
            })
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
        let (result, store) = self
            .run(self.scope(target, true), redact, |store, plugin| {
                Box::pin(async move {
                    plugin.securix_provider_provider().call_exchange_code(store, &request).await
                })
            })
            .await?;
        result.map(tokens).map_err(|e| failure(&self.info.id, e, store.data()))
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
        let (result, store) = self
            .run(self.scope(target, true), vec![refresh_token.clone()], |store, plugin| {
                Box::pin(
                    async move { plugin.securix_provider_provider().call_refresh(store, &request).await },
                )
            })
            .await?;
        result.map(tokens).map_err(|e| failure(&self.info.id, e, store.data()))
    }

    #[tracing::instrument(name = "plugin.identity", skip_all, fields(plugin = %self.info.id))]
    pub async fn identity(
        &self,
        target: &CallTarget,
        access_token: &SecretString,
    ) -> Result<AccountIdentity, PluginError> {
        let request = Self::token_request(target, access_token);
        let (result, store) = self
            .run(self.scope(target, false), vec![access_token.clone()], |store, plugin| {
                Box::pin(
                    async move { plugin.securix_provider_provider().call_identity(store, &request).await },
                )
            })
            .await?;
        let identity = result.map_err(|e| failure(&self.info.id, e, store.data()))?;
        Ok(AccountIdentity { account_id: identity.account_id, email: identity.email, name: identity.name })
    }

    /// Where to send proxied calls; the base URL must be on a declared host.
    #[tracing::instrument(name = "plugin.proxy_target", skip_all, fields(plugin = %self.info.id))]
    pub async fn proxy_target(
        &self,
        target: &CallTarget,
        access_token: &SecretString,
    ) -> Result<ApiTarget, PluginError> {
        let request = Self::token_request(target, access_token);
        let (result, store) = self
            .run(self.scope(target, false), vec![access_token.clone()], |store, plugin| {
                Box::pin(async move {
                    plugin.securix_provider_provider().call_proxy_target(store, &request).await
                })
            })
            .await?;
        let api = result.map_err(|e| failure(&self.info.id, e, store.data()))?;
        self.check_declared_url(target, &api.base_url)?;
        for header in &api.headers {
            if let Some(what) = unusable_header(&header.name, &header.value) {
                return Err(PluginError::BadOutput { plugin: self.info.id.clone(), what });
            }
        }
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
        let (result, store) = self
            .run(self.scope(target, true), redact, |store, plugin| {
                Box::pin(async move { plugin.securix_provider_provider().call_revoke(store, &request).await })
            })
            .await?;
        result.map_err(|e| failure(&self.info.id, e, store.data()))
    }
}

/// Headers that frame a message or manage its connection: the HTTP client's alone.
const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Why a header a plugin asks to send cannot go out, if it cannot: a malformed
/// name or value, or a name that frames the request.
pub(crate) fn unusable_header(name: &str, value: &str) -> Option<String> {
    let Ok(parsed) = hyper::header::HeaderName::from_bytes(name.as_bytes()) else {
        return Some("a malformed header name".to_owned());
    };
    if FRAMING_HEADERS.contains(&parsed.as_str()) {
        return Some(format!("the header {parsed}, which only the HTTP client sets"));
    }
    if hyper::header::HeaderValue::from_str(value).is_err() {
        return Some(format!("a value for {parsed} with control characters"));
    }
    None
}
