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
mod epoch_ticker;
mod error;
mod fetch;
mod host_state;
mod limits;
mod plugin;
mod types;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use bindings::SUPPORTED_VERSIONS;
pub use error::{PluginError, ProviderFailure};
pub use fetch::{CLIENT_SECRET_PLACEHOLDER, FetchPolicy};
pub use limits::PluginLimits;
pub use plugin::Plugin;
pub use types::{
    AccountIdentity, ApiTarget, AuthorizeParams, CallTarget, IssuedTokens, OAuthClient, ProviderInfo,
    ValidatedConfig,
};

use bindings::{PROVIDER_EXPORT, v0_1_0};
use epoch_ticker::EpochTicker;
use fetch::Fetcher;
use host_state::HostState;

/// How the host is set up.
#[derive(Debug, Clone, Default)]
pub struct PluginHostOptions {
    pub limits: PluginLimits,
    pub fetch: FetchPolicy,
    /// Where compiled plugins are cached; `None` compiles on every start.
    pub cache_dir: Option<PathBuf>,
}

/// Loads plugins and hands them out by provider id.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<HostState>,
    fetcher: Arc<Fetcher>,
    limits: PluginLimits,
    permits: Arc<Semaphore>,
    ticker: Arc<EpochTicker>,
    plugins: RwLock<BTreeMap<String, Arc<Plugin>>>,
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
        let ticker = Arc::new(EpochTicker::start(&engine));
        let fetcher = Arc::new(Fetcher::new(options.fetch).map_err(load_error)?);
        Ok(PluginHost {
            engine,
            linker,
            fetcher,
            permits: Arc::new(Semaphore::new(concurrency as usize)),
            ticker,
            limits,
            plugins: RwLock::new(BTreeMap::new()),
        })
    }

    /// Compiles, checks and registers a plugin; a plugin with the same id replaces
    /// the one loaded before.
    pub async fn load(&self, wasm: &[u8]) -> Result<Arc<Plugin>, PluginError> {
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
        let pre = v0_1_0::ProviderPluginPre::new(pre).map_err(load_error)?;
        let mut plugin = Plugin {
            info: ProviderInfo {
                id: String::new(),
                name: String::new(),
                allowed_hosts: Vec::new(),
                default_scopes: Vec::new(),
                supports_pkce: false,
                supports_refresh: false,
                supports_revoke: false,
                wit,
            },
            pre,
            engine: self.engine.clone(),
            fetcher: self.fetcher.clone(),
            limits: self.limits.clone(),
            permits: self.permits.clone(),
            ticker: self.ticker.clone(),
        };
        let info = plugin.call_info().await?;
        crate::model::ids::check_app_id(&info.id, "provider id").map_err(load_error)?;
        plugin.info = ProviderInfo {
            id: info.id,
            name: info.name,
            allowed_hosts: info.allowed_hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            default_scopes: info.default_scopes,
            supports_pkce: info.supports_pkce,
            supports_refresh: info.supports_refresh,
            supports_revoke: info.supports_revoke,
            wit: plugin.info.wit.clone(),
        };
        let plugin = Arc::new(plugin);
        let mut plugins =
            self.plugins.write().map_err(|_| PluginError::Load("plugin registry poisoned".into()))?;
        plugins.insert(plugin.info.id.clone(), plugin.clone());
        tracing::info!(plugin = %plugin.info.id, wit = %plugin.info.wit, "provider plugin loaded");
        Ok(plugin)
    }

    /// Loads every `*.wasm` in `dir`.
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
            let bytes =
                std::fs::read(&path).map_err(|e| PluginError::Load(format!("{}: {e}", path.display())))?;
            loaded.push(
                self.load(&bytes).await.map_err(|e| PluginError::Load(format!("{}: {e}", path.display())))?,
            );
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

    pub fn get(&self, id: &str) -> Result<Arc<Plugin>, PluginError> {
        let plugins =
            self.plugins.read().map_err(|_| PluginError::Load("plugin registry poisoned".into()))?;
        plugins.get(id).cloned().ok_or_else(|| PluginError::UnknownPlugin(id.to_owned()))
    }

    pub fn list(&self) -> Vec<ProviderInfo> {
        self.plugins
            .read()
            .map(|plugins| plugins.values().map(|p| p.info().clone()).collect())
            .unwrap_or_default()
    }
}
