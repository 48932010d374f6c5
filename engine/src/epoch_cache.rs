//! A bounded map of answers tagged with the epoch they were true at. A lookup
//! names the epoch the store reads now; an answer from any other epoch is a miss.
//! Used for the hot path of the proxy (see `model::access_epoch`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct EpochCache<K, E, V> {
    entries: Mutex<HashMap<K, (E, V)>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How often a cache answered, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// The engine's remembered answers (`Engine::cache_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineCacheStats {
    /// Proxy calls that reused a plan, or worked one out.
    pub proxy_plans: CacheStats,
    /// API keys known already, or read from the store.
    pub api_keys: CacheStats,
}

impl<K: Eq + Hash + Clone, E: PartialEq + Copy, V: Clone> EpochCache<K, E, V> {
    pub fn new(capacity: usize) -> Self {
        EpochCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    /// The answer and its epoch, whatever the epoch (the caller may need the
    /// value to know which epoch to read); the caller then counts a `hit` or not.
    pub fn peek(&self, key: &K) -> Option<(E, V)> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// The answer, if it was made at `epoch`; the caller then counts a `hit` or not.
    pub fn get(&self, key: &K, epoch: E) -> Option<V> {
        self.peek(key).filter(|(at, _)| *at == epoch).map(|(_, value)| value)
    }

    pub fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers an answer; when full, forgets an arbitrary other one first.
    pub fn insert(&self, key: K, epoch: E, value: V) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.capacity
            && !entries.contains_key(&key)
            && let Some(victim) = entries.keys().next().cloned()
        {
            entries.remove(&victim);
        }
        entries.insert(key, (epoch, value));
    }
}

#[cfg(test)]
mod tests {
    use super::EpochCache;

    #[test]
    fn an_answer_from_another_epoch_is_a_miss() {
        let cache = EpochCache::new(2);
        cache.insert("a", 1, "one");
        assert_eq!(cache.get(&"a", 1), Some("one"));
        assert_eq!(cache.get(&"a", 2), None);
        assert_eq!(cache.peek(&"a"), Some((1, "one")));
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let cache = EpochCache::new(2);
        for (i, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            cache.insert(key, 0, i);
        }
        assert_eq!(["a", "b", "c", "d"].iter().filter(|k| cache.get(k, 0).is_some()).count(), 2);
        assert_eq!(cache.get(&"d", 0), Some(3), "the newest answer is kept");
    }
}
