//! The read versions of the transactions still open, for the in-process backends.
//! The oldest one bounds what the resolver must remember: a write no open
//! transaction read below can conflict with nothing that is still to commit. A
//! clock-based bound (FoundationDB's five seconds) would keep every write of the
//! last five seconds — half a million keys in a busy redb store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::StoreError;

#[derive(Default)]
pub struct OpenReads {
    /// How many open transactions read at each version.
    versions: Mutex<BTreeMap<u64, usize>>,
    /// How many transactions are open, readable without the lock.
    count: AtomicUsize,
}

/// An open transaction's place in `OpenReads`, given up when it drops.
pub struct OpenRead {
    reads: Arc<OpenReads>,
    version: u64,
}

impl OpenReads {
    fn versions(&self) -> Result<MutexGuard<'_, BTreeMap<u64, usize>>, StoreError> {
        self.versions.lock().map_err(|_| StoreError::Backend("open reads lock poisoned".into()))
    }

    /// Opens a transaction at the version `current` answers (with whatever else it
    /// reads), under the lock: a concurrent `horizon` sees it, or reads a current
    /// version no newer than it.
    pub fn open<T>(
        self: &Arc<Self>,
        current: impl FnOnce() -> Result<(u64, T), StoreError>,
    ) -> Result<(OpenRead, T), StoreError> {
        let mut versions = self.versions()?;
        let (version, read) = current()?;
        *versions.entry(version).or_default() += 1;
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok((OpenRead { reads: self.clone(), version }, read))
    }

    /// How many transactions are open.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The oldest version an open transaction reads at, or the current version (as
    /// `current` answers it) when that is older or none is open: no transaction
    /// opened later reads below it.
    pub fn horizon(&self, current: impl FnOnce() -> u64) -> Result<u64, StoreError> {
        let versions = self.versions()?;
        let now = current();
        Ok(versions.keys().next().map_or(now, |&oldest| oldest.min(now)))
    }
}

impl OpenRead {
    /// The version this transaction reads at.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// `OpenReads::horizon` of the transactions this one is open among.
    pub fn horizon(&self, current: impl FnOnce() -> u64) -> Result<u64, StoreError> {
        self.reads.horizon(current)
    }
}

impl Drop for OpenRead {
    fn drop(&mut self) {
        let Ok(mut versions) = self.reads.versions() else { return };
        if let Some(count) = versions.get_mut(&self.version) {
            *count -= 1;
            if *count == 0 {
                versions.remove(&self.version);
            }
        }
        self.reads.count.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_is_the_oldest_open_read() -> Result<(), StoreError> {
        let reads = Arc::new(OpenReads::default());
        assert_eq!(reads.horizon(|| 9)?, 9, "none open: the current version");
        let (old, ()) = reads.open(|| Ok((3, ())))?;
        let (newer, ()) = reads.open(|| Ok((7, ())))?;
        let (twin, ()) = reads.open(|| Ok((3, ())))?;
        assert_eq!((reads.count(), reads.horizon(|| 9)?), (3, 3));
        drop(old);
        assert_eq!(reads.horizon(|| 9)?, 3, "another transaction still reads at 3");
        drop(twin);
        assert_eq!(reads.horizon(|| 9)?, 7);
        assert_eq!(reads.horizon(|| 5)?, 5, "never newer than the current version");
        drop(newer);
        assert_eq!((reads.count(), reads.horizon(|| 9)?), (0, 9));
        Ok(())
    }
}
