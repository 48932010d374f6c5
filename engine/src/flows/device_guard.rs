//! Limits on wrong device codes, so codes cannot be guessed (20^8 codes, a handful
//! of guesses a minute), without a correct code ever being refused because
//! *others* guessed wrong.
//!
//! Wrong codes are counted per client (its address, through trusted proxies only,
//! IPv6 by /64: the caller's key) and per browser (its cookie), and globally. A
//! client or browser over its own limit is refused. Past the global limit only
//! those that have missed in this window are refused: a user who types their code
//! right the first time always gets in, so a flood of guesses elsewhere costs them
//! nothing, while a guesser needs a fresh address *and* a fresh browser per guess.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Distinct clients or browsers remembered per window, so memory stays bounded
/// under a flood. Once it is full, a client it could not remember counts as one
/// that missed (fail closed): past the global limit, only those it knows to be
/// clean get in.
const MAX_TRACKED: usize = 100_000;

pub struct DeviceGuard {
    per_client: u32,
    global: u32,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    window_start: Option<Instant>,
    global_misses: u32,
    /// Misses by client key and by browser, in one map (their keys cannot collide:
    /// browsers are prefixed).
    misses: HashMap<String, u32>,
}

fn browser_key(browser: &str) -> String {
    format!("browser:{browser}")
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

    /// Whether `client` in `browser` may try a code now.
    pub fn allows(&self, client: &str, browser: &str) -> bool {
        self.with_state(|s| {
            let by_client = s.misses.get(client).copied().unwrap_or(0);
            let by_browser = s.misses.get(&browser_key(browser)).copied().unwrap_or(0);
            let own = by_client.max(by_browser);
            // No miss on record counts as clean only while the table could have recorded one.
            let clean = own == 0 && s.misses.len() < MAX_TRACKED;
            own < self.per_client && (clean || s.global_misses < self.global)
        })
    }

    /// Counts a wrong code.
    pub fn record_miss(&self, client: &str, browser: &str) {
        self.with_state(|s| {
            s.global_misses = s.global_misses.saturating_add(1);
            for key in [client.to_owned(), browser_key(browser)] {
                if s.misses.len() < MAX_TRACKED || s.misses.contains_key(&key) {
                    let count = s.misses.entry(key).or_insert(0);
                    *count = count.saturating_add(1);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{DeviceGuard, MAX_TRACKED};

    #[test]
    fn a_client_with_no_misses_gets_in_whatever_others_guessed() {
        let guard = DeviceGuard::new(3, 5);
        for n in 0..10 {
            guard.record_miss(&format!("10.0.0.{n}"), &format!("guesser-{n}"));
        }
        assert!(
            guard.allows("192.0.2.1", "honest-browser"),
            "past the global limit, a clean client still tries"
        );
        assert!(!guard.allows("10.0.0.1", "fresh-browser"), "a client that missed waits out the window");
        assert!(!guard.allows("192.0.2.9", "guesser-1"), "so does a browser that missed");
    }

    #[test]
    fn once_the_table_is_full_an_unknown_client_is_not_taken_for_a_clean_one() {
        let guard = DeviceGuard::new(3, 5);
        guard.with_state(|s| {
            for n in 0..MAX_TRACKED {
                s.misses.insert(format!("2001:db8:{n:x}::/64"), 1);
            }
            s.global_misses = 10;
        });
        assert!(
            !guard.allows("2001:db8:ffff:ffff::/64", "fresh-browser"),
            "fails closed past the global limit"
        );
    }

    #[test]
    fn a_client_over_its_own_limit_is_refused() {
        let guard = DeviceGuard::new(3, 1000);
        for _ in 0..3 {
            assert!(guard.allows("10.6.6.6", "b"));
            guard.record_miss("10.6.6.6", "b");
        }
        assert!(!guard.allows("10.6.6.6", "another-browser"));
        assert!(guard.allows("10.6.6.7", "another-browser"));
    }
}
