//! The plugin host: provider plugins are wasm components run by wasmtime in a
//! sandbox, so anyone can add a provider without touching the engine and a buggy
//! or hostile one cannot hurt it.
//!
//! Compiled once per plugin (and cached on disk by wasmtime, keyed by the wasm's
//! hash), one `InstancePre` per plugin, a fresh `Store` per call from a pooling
//! allocator. Per call: a memory cap, a CPU budget enforced by epoch interruption
//! (a ticker thread advances the epoch), a wall-clock timeout, and `fetch` as the
//! only door out (see `fetch.rs`).

mod bindings;
mod client_secret;
mod compat_v0_1;
mod epoch_ticker;
mod error;
mod fetch;
mod guest;
mod host_state;
mod limits;
mod output;
mod plugin;
mod registry;
mod types;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use bindings::SUPPORTED_VERSIONS;
pub use client_secret::CLIENT_SECRET_PLACEHOLDER;
pub use error::{PluginError, ProviderFailure};
pub use fetch::FetchPolicy;
pub use limits::PluginLimits;
pub use plugin::Plugin;
pub use registry::{FailedPlugin, PluginSource};
pub use types::{
    AccountIdentity, ApiTarget, AuthorizeParams, CallTarget, IssuedTokens, OAuthClient, ProviderInfo,
    ValidatedConfig,
};

use bindings::{PROVIDER_EXPORT, v0_1_0, v0_2_0};
use client_secret::ClientAuthEndpoint;
use epoch_ticker::EpochTicker;
use fetch::Fetcher;
use guest::GuestPre;
use host_state::HostState;
use registry::Registry;

/// How the host is set up.
#[derive(Debug, Clone, Default)]
pub struct PluginHostOptions {
    pub limits: PluginLimits,
    pub fetch: FetchPolicy,
    /// Where compiled plugins are cached; `None` compiles on every start.
    pub cache_dir: Option<PathBuf>,
    /// First-party plugins a file in the plugins directory may replace
    /// (`SECURIX_PLUGIN_OVERRIDES`); any other duplicate id is refused.
    pub replaceable: Vec<String>,
}

/// Loads plugins and hands them out by provider id.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<HostState>,
    fetcher: Arc<Fetcher>,
    limits: PluginLimits,
    permits: Arc<Semaphore>,
    ticker: Arc<EpochTicker>,
    registry: RwLock<Registry>,
    replaceable: Vec<String>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("plugins", &self.list().iter().map(|p| p.id.clone()).collect::<Vec<_>>())
            .finish()
    }
}

fn load_error(error: impl std::fmt::Display) -> PluginError {
    PluginError::Load(error.to_string())
}

impl PluginHost {
    pub fn new(options: PluginHostOptions) -> Result<Self, PluginError> {
        let limits = options.limits;
        let concurrency = limits.max_concurrent_calls.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(concurrency)
            .total_core_instances(concurrency * 8)
            .total_memories(concurrency * 2)
            .total_tables(concurrency * 8)
            .total_stacks(concurrency)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(32)
            .max_memory_size(limits.memory_bytes)
            // Keep a reused slot's first pages resident and reset them with memset:
            // no page faults on the next call (plugins link a 64 KiB stack at the start).
            .linear_memory_keep_resident(256 << 10)
            .table_keep_resident(64 << 10);
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .memory_reservation(limits.memory_bytes as u64)
            .memory_guard_size(64 << 10)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(dir) = &options.cache_dir {
            std::fs::create_dir_all(dir).map_err(load_error)?;
            let mut cache_config = wasmtime::CacheConfig::new();
            cache_config.with_directory(dir);
            config.cache(Some(wasmtime::Cache::new(cache_config).map_err(load_error)?));
        }
        let engine = Engine::new(&config).map_err(load_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(load_error)?;
        v0_1_0::ProviderPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(load_error)?;
        v0_2_0::ProviderPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(load_error)?;
        let ticker = Arc::new(EpochTicker::start(&engine));
        let fetcher = Arc::new(Fetcher::new(options.fetch).map_err(load_error)?);
        Ok(PluginHost {
            engine,
            linker,
            fetcher,
            permits: Arc::new(Semaphore::new(concurrency as usize)),
            ticker,
            limits,
            registry: RwLock::new(Registry::default()),
            replaceable: options.replaceable,
        })
    }

    /// Compiles, checks and registers a plugin given as bytes (embedders, tests).
    pub async fn load(&self, wasm: &[u8]) -> Result<Arc<Plugin>, PluginError> {
        self.load_from(wasm, PluginSource::Embedded).await
    }

    /// Compiles, checks and registers a plugin. An id already taken is refused,
    /// naming both sources, unless a file replaces a first-party plugin the
    /// operator listed in `replaceable`.
    pub async fn load_from(&self, wasm: &[u8], source: PluginSource) -> Result<Arc<Plugin>, PluginError> {
        let plugin = Arc::new(self.compile(wasm).await?);
        let id = plugin.info.id.clone();
        let mut registry =
            self.registry.write().map_err(|_| PluginError::Load("plugin registry poisoned".into()))?;
        if let Some(taken) = registry.source_of(&id) {
            let replaces = matches!(taken, PluginSource::FirstParty)
                && matches!(source, PluginSource::File(_))
                && self.replaceable.contains(&id);
            if !replaces {
                return Err(PluginError::Load(format!(
                    "{source} names itself `{id}`, which {taken} already is; ids must be unique{}",
                    if matches!(taken, PluginSource::FirstParty) {
                        " (to replace a first-party plugin, list it in SECURIX_PLUGIN_OVERRIDES)"
                    } else {
                        ""
                    }
                )));
            }
            tracing::warn!(plugin = %id, %source, "a plugin file replaces the first-party plugin, as the operator allowed");
        }
        let (sites, endpoints) =
            (plugin.info.allowed_hosts.join(" "), plugin.info.client_auth_endpoints.join(" "));
        tracing::info!(plugin = %id, wit = %plugin.info.wit, %source, %sites, client_auth = %endpoints, "provider plugin loaded");
        registry.insert(plugin.clone(), source);
        Ok(plugin)
    }

    async fn compile(&self, wasm: &[u8]) -> Result<Plugin, PluginError> {
        let engine = self.engine.clone();
        let bytes = wasm.to_vec();
        // Compiling is CPU-heavy: keep it off the async workers.
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
            .await
            .map_err(load_error)?
            .map_err(|e| PluginError::Load(format!("not a valid wasm component: {e}")))?;
        let wit = self.wit_version(&component)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            PluginError::Load(format!("plugin imports something the host does not offer: {e}"))
        })?;
        let pre = match wit.as_str() {
            "0.1.0" => GuestPre::V0_1(v0_1_0::ProviderPluginPre::new(pre).map_err(load_error)?),
            _ => GuestPre::V0_2(v0_2_0::ProviderPluginPre::new(pre).map_err(load_error)?),
        };
        let mut plugin = Plugin {
            info: ProviderInfo {
                id: String::new(),
                name: String::new(),
                allowed_hosts: Vec::new(),
                default_scopes: Vec::new(),
                supports_pkce: false,
                supports_refresh: false,
                supports_revoke: false,
                client_auth_endpoints: Vec::new(),
                wit: wit.clone(),
            },
            sites: Vec::new(),
            client_auth: Vec::new(),
            pre,
            engine: self.engine.clone(),
            fetcher: self.fetcher.clone(),
            limits: self.limits.clone(),
            permits: self.permits.clone(),
            own_permits: Arc::new(
                Semaphore::new(self.limits.max_concurrent_calls_per_plugin.max(1) as usize),
            ),
            ticker: self.ticker.clone(),
        };
        let info = plugin.call_info().await?;
        // Lower-case letters, digits and `-`: no `GitHub` or `github.` beside `github`.
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if info.id.is_empty() || info.id.len() > 64 || !info.id.chars().all(plain) {
            return Err(PluginError::Load(format!(
                "the provider id {:?} is not 1 to 64 lower-case letters, digits and -",
                info.id.chars().take(64).collect::<String>()
            )));
        }
        output::Caps { plugin: &info.id }.info(&info)?;
        let refuse = |what: String| PluginError::Load(format!("plugin `{}` declares {what}", info.id));
        let mut sites = Vec::with_capacity(info.allowed_hosts.len());
        for host in &info.allowed_hosts {
            sites.push(
                crate::policy::Site::parse(host)
                    .map_err(|_| refuse(format!("a site it cannot name ({host:?})")))?,
            );
        }
        let mut client_auth = Vec::with_capacity(info.client_auth_endpoints.len());
        for endpoint in &info.client_auth_endpoints {
            let pattern = ClientAuthEndpoint::parse(endpoint)
                .filter(|pattern| sites.contains(pattern.site()))
                .ok_or_else(|| refuse(format!("a client-auth endpoint not on its sites ({endpoint:?})")))?;
            client_auth.push(pattern);
        }
        if wit == "0.1.0" {
            // 0.1.0 names no endpoints: its static sites stand for them.
            client_auth = sites.iter().cloned().map(ClientAuthEndpoint::AnyOn).collect();
        }
        plugin.info = ProviderInfo {
            id: info.id,
            name: info.name,
            allowed_hosts: sites.iter().map(ToString::to_string).collect(),
            default_scopes: info.default_scopes,
            supports_pkce: info.supports_pkce,
            supports_refresh: info.supports_refresh,
            supports_revoke: info.supports_revoke,
            client_auth_endpoints: info.client_auth_endpoints,
            wit,
        };
        plugin.sites = sites;
        plugin.client_auth = client_auth;
        Ok(plugin)
    }

    /// Loads every `*.wasm` in `dir`. A file that cannot be loaded is left out and
    /// reported (`failed`), so one bad file does not keep the others from running.
    pub async fn load_dir(&self, dir: &Path) -> Result<Vec<Arc<Plugin>>, PluginError> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| PluginError::Load(format!("{}: {e}", dir.display())))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        paths.sort();
        let mut loaded = Vec::new();
        for path in paths {
            let source = PluginSource::File(path.clone());
            let outcome = match std::fs::read(&path) {
                Ok(bytes) => self.load_from(&bytes, source.clone()).await,
                Err(e) => Err(PluginError::Load(e.to_string())),
            };
            match outcome {
                Ok(plugin) => loaded.push(plugin),
                Err(error) => {
                    tracing::error!(file = %path.display(), %error, "a provider plugin was left out");
                    let mut registry = self
                        .registry
                        .write()
                        .map_err(|_| PluginError::Load("plugin registry poisoned".into()))?;
                    registry.fail(FailedPlugin::new(&path, &error));
                }
            }
        }
        Ok(loaded)
    }

    /// The version of `securix:provider` the component exports, if this host runs it.
    fn wit_version(&self, component: &Component) -> Result<String, PluginError> {
        let component_type = component.component_type();
        let found: Vec<String> = component_type
            .exports(&self.engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
            .filter_map(|(name, _)| {
                name.strip_prefix(PROVIDER_EXPORT).and_then(|rest| rest.strip_prefix('@')).map(str::to_owned)
            })
            .collect();
        let supported = SUPPORTED_VERSIONS.join(", ");
        match found.first() {
            Some(version) if SUPPORTED_VERSIONS.contains(&version.as_str()) => Ok(version.clone()),
            Some(version) => Err(PluginError::UnsupportedWitVersion { found: version.clone(), supported }),
            None => Err(PluginError::Load(format!(
                "the component exports no `{PROVIDER_EXPORT}` interface; is it a SecuriX plugin?"
            ))),
        }
    }

    /// The plugin behind `id`; `Unavailable` when its file failed to load.
    pub fn get(&self, id: &str) -> Result<Arc<Plugin>, PluginError> {
        let registry =
            self.registry.read().map_err(|_| PluginError::Load("plugin registry poisoned".into()))?;
        registry.get(id)
    }

    pub fn list(&self) -> Vec<ProviderInfo> {
        self.registry.read().map(|registry| registry.infos()).unwrap_or_default()
    }

    /// Plugin files left out at load, with why.
    pub fn failed(&self) -> Vec<FailedPlugin> {
        self.registry.read().map(|registry| registry.failed().to_vec()).unwrap_or_default()
    }
}
