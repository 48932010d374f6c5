//! Optimistic conflict detection for the in-process backends (memory, redb), after
//! FoundationDB's resolver: a transaction conflicts when a commit newer than its read
//! version wrote into a range it read.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use super::StoreError;
use super::backend::{KeyRange, Mutation};
use super::limits::{MAX_TRANSACTION_AGE, too_old};

/// Write history since the oldest version a live transaction may still read at.
#[derive(Default)]
pub struct Resolver {
    /// The newest version that wrote each key.
    point_writes: BTreeMap<Vec<u8>, u64>,
    /// Range clears with their versions.
    range_writes: Vec<(KeyRange, u64)>,
    /// Commit versions and when they happened, oldest first, to move the horizon.
    history: VecDeque<(u64, Instant)>,
    /// Transactions reading below this version cannot be checked any more.
    horizon: u64,
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

    /// Records the writes of a commit at `version` (versions only grow).
    pub fn record(&mut self, version: u64, mutations: &[Mutation], now: Instant) {
        for mutation in mutations {
            match mutation {
                Mutation::ClearRange(range) => self.range_writes.push((range.clone(), version)),
                Mutation::Set { key, .. } | Mutation::Clear { key } | Mutation::Add { key, .. } => {
                    self.point_writes.insert(key.clone(), version);
                }
            }
        }
        self.history.push_back((version, now));
        self.advance_horizon(now);
    }

    /// Forgets writes no live transaction can conflict with: every transaction older
    /// than `MAX_TRANSACTION_AGE` fails on its own, so history beyond it is dead weight.
    fn advance_horizon(&mut self, now: Instant) {
        // A second of slack so that a transaction right at its age limit still sees
        // every write it could conflict with.
        let keep = MAX_TRANSACTION_AGE + std::time::Duration::from_secs(1);
        while let Some(&(version, at)) = self.history.front() {
            if now.duration_since(at) <= keep {
                break;
            }
            self.horizon = version;
            self.history.pop_front();
        }
        let horizon = self.horizon;
        self.range_writes.retain(|(_, version)| *version > horizon);
        if self.point_writes.len() > 2 * self.pruned_len + 1024 {
            self.point_writes.retain(|_, version| *version > horizon);
            self.pruned_len = self.point_writes.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &[u8]) -> Mutation {
        Mutation::Set { key: key.to_vec(), value: vec![] }
    }

    #[test]
    fn newer_write_into_read_range_conflicts() {
        let mut resolver = Resolver::default();
        resolver.record(5, &[set(b"b")], Instant::now());
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
        resolver.record(3, &[Mutation::ClearRange(clear)], Instant::now());
        assert_eq!(resolver.check(2, &[KeyRange::single(b"k")]), Err(StoreError::Conflict));
    }

    #[test]
    fn history_older_than_the_age_limit_is_forgotten() {
        let mut resolver = Resolver::default();
        let start = Instant::now();
        resolver.record(1, &[set(b"k")], start);
        let later = start + MAX_TRANSACTION_AGE + std::time::Duration::from_secs(2);
        resolver.record(2, &[set(b"j")], later);
        assert!(matches!(resolver.check(0, &[]), Err(StoreError::TransactionTooOld { .. })));
        assert_eq!(resolver.check(1, &[KeyRange::single(b"k")]), Ok(()));
    }
}
