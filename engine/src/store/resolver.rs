//! Optimistic conflict detection for the in-process backends (memory, redb), after
//! FoundationDB's resolver: a transaction conflicts when a commit newer than its read
//! version wrote into a range it read.

use std::collections::BTreeMap;

use super::StoreError;
use super::backend::{KeyRange, Mutation};
use super::limits::too_old;

/// Writes since the oldest version an open transaction reads at (`open_reads`).
#[derive(Default)]
pub struct Resolver {
    /// The newest version that wrote each key.
    point_writes: BTreeMap<Vec<u8>, u64>,
    /// Range clears with their versions.
    range_writes: Vec<(KeyRange, u64)>,
    /// Transactions reading below this version cannot be checked any more.
    horizon: u64,
    /// Writes remembered after the last pruning.
    pruned_len: usize,
}

impl Resolver {
    /// Fails with `Conflict` if a commit after `read_version` wrote into `reads`.
    pub fn check(&self, read_version: u64, reads: &[KeyRange]) -> Result<(), StoreError> {
        if read_version < self.horizon {
            return Err(too_old());
        }
        for read in reads {
            let newer_point = self
                .point_writes
                .range(read.begin.clone()..read.end.clone())
                .any(|(_, &version)| version > read_version);
            let newer_range = self
                .range_writes
                .iter()
                .any(|(range, version)| *version > read_version && range.overlaps(read));
            if newer_point || newer_range {
                return Err(StoreError::Conflict);
            }
        }
        Ok(())
    }

    /// Records the writes of a commit at `version` (versions only grow). Now and then
    /// it forgets the writes at or below `horizon` (`OpenReads::horizon`): no
    /// transaction still to commit reads below it.
    pub fn record(&mut self, version: u64, mutations: &[Mutation], horizon: impl FnOnce() -> u64) {
        for mutation in mutations {
            match mutation {
                Mutation::ClearRange(range) => self.range_writes.push((range.clone(), version)),
                Mutation::Set { key, .. } | Mutation::Clear { key } | Mutation::Add { key, .. } => {
                    self.point_writes.insert(key.clone(), version);
                }
            }
        }
        // Pruning walks every remembered write: only once they doubled, so it costs
        // a constant per write.
        let remembered = self.point_writes.len() + self.range_writes.len();
        if remembered > 2 * self.pruned_len + 1024 {
            self.horizon = self.horizon.max(horizon());
            let horizon = self.horizon;
            self.point_writes.retain(|_, version| *version > horizon);
            self.range_writes.retain(|(_, version)| *version > horizon);
            self.pruned_len = self.point_writes.len() + self.range_writes.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &[u8]) -> Mutation {
        Mutation::Set { key: key.to_vec(), value: vec![] }
    }

    /// A horizon no pruning may pass.
    fn none_pruned() -> u64 {
        0
    }

    #[test]
    fn newer_write_into_read_range_conflicts() {
        let mut resolver = Resolver::default();
        resolver.record(5, &[set(b"b")], none_pruned);
        let read = KeyRange { begin: b"a".to_vec(), end: b"c".to_vec() };
        assert_eq!(resolver.check(4, std::slice::from_ref(&read)), Err(StoreError::Conflict));
        assert_eq!(resolver.check(5, std::slice::from_ref(&read)), Ok(()));
        let elsewhere = KeyRange { begin: b"c".to_vec(), end: b"d".to_vec() };
        assert_eq!(resolver.check(0, &[elsewhere]), Ok(()));
    }

    #[test]
    fn range_clear_conflicts_with_point_read() {
        let mut resolver = Resolver::default();
        let clear = KeyRange { begin: b"a".to_vec(), end: b"z".to_vec() };
        resolver.record(3, &[Mutation::ClearRange(clear)], none_pruned);
        assert_eq!(resolver.check(2, &[KeyRange::single(b"k")]), Err(StoreError::Conflict));
    }

    /// Many commits later, writes below the horizon are gone and a transaction
    /// reading below it is too old; one reading at it still sees every conflict.
    #[test]
    fn writes_below_the_oldest_open_read_are_forgotten() {
        let mut resolver = Resolver::default();
        resolver.record(1, &[set(b"old")], || 10);
        resolver.record(11, &[set(b"kept")], || 10);
        for version in 12..5000 {
            resolver.record(version, &[set(format!("k{version}").as_bytes())], || 10);
        }
        assert!(resolver.point_writes.len() < 5000, "nothing was pruned");
        assert!(!resolver.point_writes.contains_key(b"old".as_slice()));
        assert!(matches!(resolver.check(9, &[]), Err(StoreError::TransactionTooOld { .. })));
        assert_eq!(resolver.check(10, &[KeyRange::single(b"kept")]), Err(StoreError::Conflict));
        assert_eq!(resolver.check(10, &[KeyRange::single(b"k4999")]), Err(StoreError::Conflict));
        assert_eq!(resolver.check(11, &[KeyRange::single(b"kept")]), Ok(()));
    }
}
