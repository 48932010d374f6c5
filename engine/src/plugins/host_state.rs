//! The state of one plugin call's `Store`: the empty WASI context, the memory
//! limiter, CPU accounting and the `host` interface (`fetch`, `log`).

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::current::securix::provider::{host, types};
use super::fetch::{FetchFailure, FetchScope, Fetcher};
use crate::util::secret::SecretString;

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub plugin: String,
    fetcher: Arc<Fetcher>,
    scope: FetchScope,
    /// Secrets of this call, scrubbed from log lines.
    redact: Vec<SecretString>,
    memory_limit: usize,
    pub memory_exceeded: bool,
    pub cpu_exceeded: bool,
    /// Epoch ticks seen while this call's wasm ran: its CPU, in `EPOCH_TICK`s.
    cpu_ticks: u32,
    cpu_limit: Duration,
    logs_left: u32,
    fetches_left: u32,
    /// Bytes of linear memory across all of the call's memories.
    memory_used: usize,
    /// Set when the plugin put the client secret where it may not go: the call fails.
    pub misplaced_secret: Option<String>,
    /// The OIDC discovery document the operator's `discoveryUrl` names: the first
    /// 200 answer to a GET of it.
    pub discovery: Option<Vec<u8>>,
    /// `FetchScope::token_fields` as the call's last successful POST answer (the
    /// token endpoint's) holds them: values the host read itself, not the guest's word.
    pub token_fields: std::collections::BTreeMap<String, String>,
}

impl HostState {
    pub fn new(
        plugin: String,
        fetcher: Arc<Fetcher>,
        scope: FetchScope,
        redact: Vec<SecretString>,
        limits: &super::PluginLimits,
    ) -> Self {
        HostState {
            // No preopens, no environment, no arguments, no sockets: an empty world.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            plugin,
            fetcher,
            scope,
            redact,
            memory_limit: limits.memory_bytes,
            memory_exceeded: false,
            cpu_exceeded: false,
            cpu_ticks: 0,
            cpu_limit: limits.cpu,
            logs_left: limits.log_lines_per_call,
            fetches_left: limits.fetches_per_call,
            memory_used: 0,
            misplaced_secret: None,
            discovery: None,
            token_fields: Default::default(),
        }
    }

    /// Called when an epoch tick finds this call's wasm running: stops a call past
    /// its CPU budget. Counting ticks (not wall time) means time spent waiting on
    /// `fetch`, or queued behind other work on a busy host, is not the plugin's CPU.
    pub fn cpu_check(&mut self) -> bool {
        self.cpu_ticks += 1;
        if super::epoch_ticker::EPOCH_TICK * self.cpu_ticks > self.cpu_limit {
            self.cpu_exceeded = true;
        }
        !self.cpu_exceeded
    }

    /// Replaces every secret of this call in `text`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = self.scope.client_secret.scrub_text(text);
        for secret in self.redact.iter().map(SecretString::expose) {
            if !secret.is_empty() {
                out = out.replace(secret, "<redacted>");
            }
        }
        out
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wasmtime::ResourceLimiter for HostState {
    /// The cap holds for all of a call's memories together, not each one.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let used = self.memory_used.saturating_add(desired.saturating_sub(current));
        if used > self.memory_limit {
            self.memory_exceeded = true;
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        self.memory_used = used;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    async fn fetch(&mut self, request: types::HttpRequest) -> Result<types::HttpResponse, types::FetchError> {
        // A call that misplaced the secret fails anyway: it gets no further out.
        if self.misplaced_secret.is_some() || self.fetches_left == 0 {
            return Err(types::FetchError::Denied("no more requests in this call".into()));
        }
        self.fetches_left -= 1;
        let fetcher = self.fetcher.clone();
        let is_discovery =
            request.method.eq_ignore_ascii_case("GET") && self.scope.exact_urls.contains(&request.url);
        let reads_fields = !self.scope.token_fields.is_empty() && request.method.eq_ignore_ascii_case("POST");
        let result = fetcher.fetch(&self.scope, request).await;
        match result {
            Ok(answer) => {
                // The document the operator's `discoveryUrl` names: the first good answer.
                if is_discovery && answer.status == 200 && self.discovery.is_none() {
                    self.discovery = Some(answer.body.clone());
                }
                if reads_fields && (200..300).contains(&answer.status) {
                    let json = serde_json::from_slice(&answer.body).unwrap_or_default();
                    self.token_fields = (self.scope.token_fields.iter())
                        .filter_map(|path| Some((path.clone(), crate::catalog::params::pick(&json, path)?)))
                        .collect();
                }
                Ok(answer)
            }
            Err(FetchFailure::Guest(error)) => {
                tracing::debug!(plugin = %self.plugin, error = %self.redact(&format!("{error:?}")), "plugin fetch refused or failed");
                Err(error)
            }
            Err(FetchFailure::Misplaced(misplaced)) => {
                tracing::warn!(plugin = %self.plugin, why = %misplaced.0, "plugin put the client secret where it may not go");
                self.misplaced_secret = Some(misplaced.0.clone());
                Err(types::FetchError::Denied(misplaced.0))
            }
        }
    }

    async fn log(&mut self, level: host::LogLevel, message: String) {
        if self.logs_left == 0 {
            return;
        }
        self.logs_left -= 1;
        // Control characters would forge lines in a text log.
        let message: String =
            self.redact(&message).chars().take(1000).map(|c| if c.is_control() { ' ' } else { c }).collect();
        let plugin = &self.plugin;
        match level {
            host::LogLevel::Debug => tracing::debug!(%plugin, "{message}"),
            host::LogLevel::Info => tracing::info!(%plugin, "{message}"),
            host::LogLevel::Warn => tracing::warn!(%plugin, "{message}"),
            host::LogLevel::Error => tracing::error!(%plugin, "{message}"),
        }
    }
}
