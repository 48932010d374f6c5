//! A transaction's pending writes, so that it reads its own writes and commits
//! them as one ordered list of mutations.

use std::collections::BTreeMap;

use super::backend::{KeyRange, Mutation, add_le};

/// The pending state of one key.
#[derive(Debug, Clone)]
enum PointWrite {
    Set(Vec<u8>),
    Clear,
    /// An addition to whatever the store holds.
    Add(i64),
}

/// What the buffer knows about a key without asking the backend.
pub enum Overlay {
    /// The buffer decides the value (it was set, cleared or lies in a cleared range).
    Known(Option<Vec<u8>>),
    /// The value is the stored one plus this delta.
    AddToStored(i64),
    /// The buffer knows nothing: read the backend.
    Unknown,
}

#[derive(Debug, Default)]
pub struct WriteBuffer {
    points: BTreeMap<Vec<u8>, PointWrite>,
    /// Cleared ranges; point writes made after a clear live in `points`.
    cleared: Vec<KeyRange>,
}

impl WriteBuffer {
    pub fn set(&mut self, key: &[u8], value: &[u8]) {
        self.points.insert(key.to_vec(), PointWrite::Set(value.to_vec()));
    }

    pub fn clear(&mut self, key: &[u8]) {
        self.points.insert(key.to_vec(), PointWrite::Clear);
    }

    pub fn clear_range(&mut self, range: KeyRange) {
        self.points.retain(|key, _| !range.contains(key));
        self.cleared.push(range);
    }

    pub fn add(&mut self, key: &[u8], delta: i64) {
        let next = match self.overlay(key) {
            Overlay::Known(value) => PointWrite::Set(add_le(value.as_deref(), delta)),
            Overlay::AddToStored(previous) => PointWrite::Add(previous.wrapping_add(delta)),
            Overlay::Unknown => PointWrite::Add(delta),
        };
        self.points.insert(key.to_vec(), next);
    }

    pub fn overlay(&self, key: &[u8]) -> Overlay {
        match self.points.get(key) {
            Some(PointWrite::Set(value)) => Overlay::Known(Some(value.clone())),
            Some(PointWrite::Clear) => Overlay::Known(None),
            Some(PointWrite::Add(delta)) => Overlay::AddToStored(*delta),
            None if self.is_cleared(key) => Overlay::Known(None),
            None => Overlay::Unknown,
        }
    }

    fn is_cleared(&self, key: &[u8]) -> bool {
        self.cleared.iter().any(|range| range.contains(key))
    }

    /// Merges the backend's pairs of `range` (in scan order) with the buffer.
    /// `stored` must cover every stored key of `range` up to the point the caller
    /// needs; buffered keys beyond `scan_end` (exclusive, in scan direction) are left out.
    pub fn merge(
        &self,
        range: &KeyRange,
        stored: Vec<super::KeyValue>,
        scan_end: Option<&[u8]>,
        reverse: bool,
    ) -> Vec<super::KeyValue> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for pair in stored {
            match self.overlay(&pair.key) {
                Overlay::Known(Some(value)) => {
                    merged.insert(pair.key, value);
                }
                Overlay::Known(None) => {}
                Overlay::AddToStored(delta) => {
                    let value = add_le(Some(&pair.value), delta);
                    merged.insert(pair.key, value);
                }
                Overlay::Unknown => {
                    merged.insert(pair.key, pair.value);
                }
            }
        }
        let in_scan = |key: &[u8]| match scan_end {
            None => true,
            Some(end) if reverse => key > end,
            Some(end) => key < end,
        };
        for (key, write) in self.points.range(range.begin.clone()..range.end.clone()) {
            if !in_scan(key) || merged.contains_key(key) {
                continue;
            }
            match write {
                PointWrite::Set(value) => {
                    merged.insert(key.clone(), value.clone());
                }
                // An add to a key the store does not hold (or we were told it doesn't).
                PointWrite::Add(delta) => {
                    merged.insert(key.clone(), add_le(None, *delta));
                }
                PointWrite::Clear => {}
            }
        }
        let pairs = merged.into_iter().map(|(key, value)| super::KeyValue { key, value });
        if reverse { pairs.rev().collect() } else { pairs.collect() }
    }

    /// The mutations to commit: range clears first, then the point writes made after them.
    pub fn into_mutations(self) -> Vec<Mutation> {
        let clears = self.cleared.into_iter().map(Mutation::ClearRange);
        let points = self.points.into_iter().map(|(key, write)| match write {
            PointWrite::Set(value) => Mutation::Set { key, value },
            PointWrite::Clear => Mutation::Clear { key },
            PointWrite::Add(delta) => Mutation::Add { key, delta },
        });
        clears.chain(points).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.cleared.is_empty()
    }
}
