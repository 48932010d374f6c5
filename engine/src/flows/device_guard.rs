//! Limits on wrong device codes, per client address and across all clients, so
//! codes cannot be guessed: 20^8 codes, a handful of guesses a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub struct DeviceGuard {
    per_client: u32,
    global: u32,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    window_start: Option<Instant>,
    global_misses: u32,
    misses: HashMap<String, u32>,
}

impl DeviceGuard {
    pub fn new(per_client: u32, global: u32) -> Self {
        DeviceGuard { per_client, global, state: Mutex::new(GuardState::default()) }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut GuardState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if state.window_start.is_none_or(|start| now.duration_since(start) > WINDOW) {
            *state = GuardState { window_start: Some(now), ..GuardState::default() };
        }
        f(&mut state)
    }

    /// Whether `client` may try a code now.
    pub fn allows(&self, client: &str) -> bool {
        self.with_state(|s| {
            s.global_misses < self.global && s.misses.get(client).copied().unwrap_or(0) < self.per_client
        })
    }

    /// Counts a wrong code.
    pub fn record_miss(&self, client: &str) {
        self.with_state(|s| {
            s.global_misses += 1;
            if s.misses.len() < 100_000 || s.misses.contains_key(client) {
                *s.misses.entry(client.to_owned()).or_insert(0) += 1;
            }
        });
    }
}
