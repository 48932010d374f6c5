//! A bounded map of answers tagged with the epoch they were true at. A lookup
//! names the epoch the store reads now; an answer from any other epoch is a miss.
//! Used for the hot path of the proxy (see `model::access_epoch`).
//!
//! An answer also remembers the store version (`Store::version`) its epoch was last
//! read at: while the store still reads at that version nothing was committed since,
//! so the epoch is the same and need not be read again (on the embedded stores; a
//! shared one has no such version and its epochs are read every time).
//!
//! Lookups take any form of the key that hashes and compares as it does
//! (`Equivalent`), so a hit on the proxy's hot path allocates nothing.

use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::{Equivalent, HashMap};

pub(crate) struct EpochCache<K, E, V> {
    entries: Mutex<HashMap<K, Entry<E, V>>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Entry<E, V> {
    epoch: E,
    value: V,
    /// A store version at which the epoch read as `epoch`.
    read_at: Option<u64>,
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

    /// The answer, if its epoch was read at store version `version` and it is
    /// `usable`: nothing was committed since, so it holds without reading the epoch
    /// again. Counted as a hit when it answers (else `revalidate` counts).
    pub fn unchanged<Q>(&self, key: &Q, version: Option<u64>, usable: impl Fn(&V) -> bool) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let value = {
            let entries = self.entries.lock().ok()?;
            let entry = entries.get(key)?;
            (version.is_some() && entry.read_at == version).then(|| entry.value.clone())
        }
        .filter(usable)?;
        self.count(true);
        Some(value)
    }

    /// The answer and its epoch, whatever the epoch (the caller may need the
    /// value to know which epoch to read).
    pub fn peek<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<(E, V)> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).map(|entry| (entry.epoch, entry.value.clone()))
    }

    /// The answer, if it was made at `epoch`, which the store has just read again
    /// at `version`, and it is `usable`: from then on `unchanged` vouches for it at
    /// that version. Counted as a hit or a miss.
    pub fn revalidate<Q>(
        &self,
        key: &Q,
        epoch: E,
        version: Option<u64>,
        usable: impl Fn(&V) -> bool,
    ) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let value = self.entries.lock().ok().and_then(|mut entries| {
            let entry = entries.get_mut(key).filter(|entry| entry.epoch == epoch && usable(&entry.value))?;
            entry.read_at = version;
            Some(entry.value.clone())
        });
        self.count(value.is_some());
        value
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers an answer made at `epoch`, read at store version `version`; when
    /// full, forgets an arbitrary other one first.
    pub fn insert(&self, key: K, epoch: E, version: Option<u64>, value: V) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.capacity
            && !entries.contains_key(&key)
            && let Some(victim) = entries.keys().next().cloned()
        {
            entries.remove(&victim);
        }
        entries.insert(key, Entry { epoch, value, read_at: version });
    }
}

#[cfg(test)]
mod tests {
    use super::EpochCache;

    fn any<V>(_: &V) -> bool {
        true
    }

    #[test]
    fn an_answer_from_another_epoch_is_a_miss() {
        let cache = EpochCache::new(2);
        cache.insert("a", 1, None, "one");
        assert_eq!(cache.revalidate(&"a", 1, None, any), Some("one"));
        assert_eq!(cache.revalidate(&"a", 2, None, any), None);
        assert_eq!(cache.peek(&"a"), Some((1, "one")));
    }

    /// Only the store version the epoch was last read at spares reading it again;
    /// a store without versions never does.
    #[test]
    fn an_answer_holds_unread_only_at_the_version_its_epoch_was_read_at() {
        let cache = EpochCache::new(2);
        cache.insert("a", 1, Some(7), "one");
        assert_eq!(cache.unchanged(&"a", Some(7), any), Some("one"));
        assert_eq!(cache.unchanged(&"a", Some(8), any), None, "something was committed since");
        assert_eq!(cache.revalidate(&"a", 2, Some(8), any), None);
        assert_eq!(cache.unchanged(&"a", Some(8), any), None, "a different epoch does not vouch for it");
        assert_eq!(cache.revalidate(&"a", 1, Some(8), any), Some("one"));
        assert_eq!(cache.unchanged(&"a", Some(8), any), Some("one"), "read again, the same epoch");
        cache.insert("b", 1, None, "two");
        assert_eq!(cache.unchanged(&"b", None, any), None);
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let cache = EpochCache::new(2);
        for (i, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            cache.insert(key, 0, None, i);
        }
        assert_eq!(
            ["a", "b", "c", "d"].iter().filter(|k| cache.revalidate(*k, 0, None, any).is_some()).count(),
            2
        );
        assert_eq!(cache.revalidate(&"d", 0, None, any), Some(3), "the newest answer is kept");
    }
}
