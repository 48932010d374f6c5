//! The state of one plugin call's `Store`: the empty WASI context, the memory
//! limiter, CPU accounting and the `host` interface (`fetch`, `log`).

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    started: Instant,
    /// Wall time spent in `fetch`: not the plugin's CPU.
    host_time: Duration,
    cpu_limit: Duration,
    logs_left: u32,
    /// Set when the plugin put the client secret where it may not go: the call fails.
    pub misplaced_secret: Option<String>,
    /// Bodies of the exact URLs fetched (the OIDC discovery document the operator named).
    pub exact_answers: Vec<Vec<u8>>,
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
            started: Instant::now(),
            host_time: Duration::ZERO,
            cpu_limit: limits.cpu,
            logs_left: limits.log_lines_per_call,
            misplaced_secret: None,
            exact_answers: Vec::new(),
        }
    }

    /// Called on every epoch tick while wasm runs: stops a call past its CPU budget.
    pub fn cpu_check(&mut self) -> bool {
        let cpu = self.started.elapsed().saturating_sub(self.host_time);
        if cpu > self.cpu_limit {
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
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exceeded = true;
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
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
        let started = Instant::now();
        let fetcher = self.fetcher.clone();
        let exact = self.scope.exact_urls.contains(&request.url);
        let result = fetcher.fetch(&self.scope, request).await;
        self.host_time += started.elapsed();
        match result {
            Ok(answer) => {
                if exact {
                    self.exact_answers.push(answer.body.clone());
                }
                Ok(answer)
            }
            Err(FetchFailure::Guest(error)) => {
                tracing::debug!(plugin = %self.plugin, error = %self.redact(&format!("{error:?}")), "plugin fetch refused or failed");
                Err(error)
            }
            Err(FetchFailure::Misplaced(misplaced)) => {
                tracing::warn!(plugin = %self.plugin, why = %misplaced.0, "plugin put the client secret where it may not go");
                self.misplaced_secret.get_or_insert(misplaced.0.clone());
                Err(types::FetchError::Denied(misplaced.0))
            }
        }
    }

    async fn log(&mut self, level: host::LogLevel, message: String) {
        if self.logs_left == 0 {
            return;
        }
        self.logs_left -= 1;
        let message: String = self.redact(&message).chars().take(1000).collect();
        let plugin = &self.plugin;
        match level {
            host::LogLevel::Debug => tracing::debug!(%plugin, "{message}"),
            host::LogLevel::Info => tracing::info!(%plugin, "{message}"),
            host::LogLevel::Warn => tracing::warn!(%plugin, "{message}"),
            host::LogLevel::Error => tracing::error!(%plugin, "{message}"),
        }
    }
}
