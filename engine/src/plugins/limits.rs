//! Per-call limits of the sandbox.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PluginLimits {
    /// Linear memory one call may use.
    pub memory_bytes: usize,
    /// CPU time one call may spend in wasm (time awaiting `fetch` does not count).
    pub cpu: Duration,
    /// Wall-clock time one call may take, `fetch`es included.
    pub wall: Duration,
    /// Calls running at once, all plugins together; more wait for a slot instead of failing.
    pub max_concurrent_calls: u32,
    /// Calls of one plugin running at once: a flood through one plugin waits on
    /// its own bound and leaves the rest of the shared slots to the others.
    pub max_concurrent_calls_per_plugin: u32,
    /// Log lines one call may write.
    pub log_lines_per_call: u32,
    /// `fetch`es one call may make (a token exchange needs two or three).
    pub fetches_per_call: u32,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            memory_bytes: 64 << 20,
            cpu: Duration::from_secs(1),
            wall: Duration::from_secs(30),
            max_concurrent_calls: 1000,
            max_concurrent_calls_per_plugin: 64,
            log_lines_per_call: 20,
            fetches_per_call: 20,
        }
    }
}

impl PluginLimits {
    /// Small limits so tests of hostile plugins finish quickly.
    pub fn danger_test_minimum() -> Self {
        PluginLimits { cpu: Duration::from_millis(200), wall: Duration::from_secs(5), ..Self::default() }
    }
}
