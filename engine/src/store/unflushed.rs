//! Commits the redb backend acknowledged (they are in its commit log) but has not
//! flushed into redb yet. Reads look here first, then in redb. (Not to be confused
//! with a transaction's own writes over its snapshot: `tx`'s write buffer.)
//!
//! They are a stack of immutable sorted layers, one per group of commits, merged
//! like a binary counter (a layer is merged into the one below while that one is no
//! bigger), so there are about log₂(commits) layers and each key is copied that many
//! times. A snapshot shares the stack behind one `Arc`; a commit never copies what a
//! snapshot holds, which a persistent map would do for every path it touched.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use redb::{AccessGuard, ReadOnlyTable};

use super::backend::{KeyRange, Mutation, add_le};
use super::{KeyValue, StoreError};

/// Keys and values are shared buffers: merging layers clones a count, not the bytes,
/// and a commit's own buffers are taken over without a copy (`blind_writes`).
pub type Bytes = bytes::Bytes;
/// The newest value of a key, `None` for a key cleared.
type Entry = (Bytes, Option<Bytes>);
pub type Table = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// One immutable run of writes, sorted by key, one entry a key.
#[derive(Debug, Default)]
pub struct Layer {
    entries: Vec<Entry>,
}

impl Layer {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn find(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        // Most reads miss most layers, often outside their span: two comparisons
        // instead of a dozen (keys share long prefixes, so each is a long memcmp).
        let (first, last) = (&self.entries.first()?.0, &self.entries.last()?.0);
        if key < &**first || key > &**last {
            return None;
        }
        let at = self.entries.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        Some(self.entries[at].1.as_deref())
    }

    fn slice(&self, range: &KeyRange) -> &[Entry] {
        let begin = self.entries.partition_point(|(k, _)| **k < *range.begin);
        let end = self.entries.partition_point(|(k, _)| **k < *range.end).max(begin);
        &self.entries[begin..end]
    }

    /// `newer` over `self`, in one pass.
    fn merged_with(&self, newer: &Layer) -> Layer {
        let runs = [newer.entries.as_slice(), self.entries.as_slice()];
        let entries =
            Newest::new(runs.into(), false).map(|(key, value)| (key.clone(), value.clone())).collect();
        Layer { entries }
    }
}

/// The stack of layers, oldest first. The first `frozen` are being flushed into
/// redb: they are never merged with newer ones, so they can be dropped whole.
#[derive(Debug, Clone, Default)]
pub struct Unflushed {
    layers: Vec<Arc<Layer>>,
    frozen: usize,
}

impl Unflushed {
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Keys in the layers not being flushed (a key in two layers counts twice).
    pub fn unfrozen_len(&self) -> usize {
        self.layers[self.frozen..].iter().map(|layer| layer.len()).sum()
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen > 0
    }

    /// Puts `layer` on top and merges while the one below is no bigger.
    pub fn push(&mut self, layer: impl Into<Layer>) {
        let layer = layer.into();
        if layer.len() == 0 {
            return;
        }
        let mut top = layer;
        while self.layers.len() > self.frozen
            && self.layers.last().is_some_and(|below| below.len() <= top.len())
        {
            let Some(below) = self.layers.pop() else { break };
            top = below.merged_with(&top);
        }
        self.layers.push(Arc::new(top));
    }

    /// Marks every layer as being flushed and answers them.
    pub fn freeze(&mut self) -> Vec<Arc<Layer>> {
        self.frozen = self.layers.len();
        self.layers.clone()
    }

    /// The flush failed: the frozen layers may merge again (and be flushed later).
    pub fn thaw(&mut self) {
        self.frozen = 0;
    }

    /// The frozen layers are in redb now.
    pub fn drop_frozen(&mut self) {
        self.layers.drain(..self.frozen);
        self.frozen = 0;
    }

    /// `Some(None)` for a key cleared, `None` for a key not written here.
    fn find(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.layers.iter().rev().find_map(|layer| layer.find(key))
    }

    fn runs(&self, range: &KeyRange) -> Vec<&[Entry]> {
        self.layers.iter().rev().map(|layer| layer.slice(range)).collect()
    }
}

/// Writes sequenced since the last seal, newest value of each key: the sequencer
/// adds every commit here, and the log writer seals it into a layer when it writes
/// those commits (one layer per group, not per commit).
pub type Tail = BTreeMap<Bytes, Option<Bytes>>;

impl From<Tail> for Layer {
    fn from(tail: Tail) -> Layer {
        Layer { entries: tail.into_iter().collect() }
    }
}

/// Whether `mutation` writes without reading what is stored (a set or a clear).
pub fn is_blind(mutation: &Mutation) -> bool {
    matches!(mutation, Mutation::Set { .. } | Mutation::Clear { .. })
}

/// What blind `mutations` (see `is_blind`) write, in order (a later write of a key
/// wins): their buffers become the entries, no byte is copied.
pub fn blind_writes(mutations: Vec<Mutation>) -> impl Iterator<Item = Entry> {
    mutations.into_iter().filter_map(|mutation| match mutation {
        Mutation::Set { key, value } => Some((key.into(), Some(value.into()))),
        Mutation::Clear { key } => Some((key.into(), None)),
        Mutation::ClearRange(_) | Mutation::Add { .. } => None,
    })
}

/// What one commit's `mutations`, applied in order on top of `tail`, `unflushed`
/// and redb as it is now (which `open_base` opens if a range clear or an atomic add
/// needs it), write: the newest value of each key. Nothing is changed, so a failed
/// read leaves no half-applied commit behind.
pub fn writes_of(
    mutations: &[Mutation],
    tail: &Tail,
    unflushed: &Unflushed,
    open_base: impl Fn() -> Result<Table, StoreError>,
) -> Result<Tail, StoreError> {
    let mut base: Option<Table> = None;
    let mut writes = Tail::new();
    for mutation in mutations {
        match mutation {
            Mutation::Set { key, value } => {
                writes.insert(Bytes::copy_from_slice(key), Some(Bytes::copy_from_slice(value)));
            }
            Mutation::Clear { key } => {
                writes.insert(Bytes::copy_from_slice(key), None);
            }
            Mutation::ClearRange(range) => {
                let bounds = range.begin.as_slice()..range.end.as_slice();
                let mut doomed: Vec<Bytes> = Vec::new();
                for item in
                    opened(&mut base, &open_base)?.range::<&[u8]>(bounds).map_err(StoreError::backend)?
                {
                    let (key, _) = item.map_err(StoreError::backend)?;
                    doomed.push(Bytes::copy_from_slice(key.value()));
                }
                doomed.extend(unflushed.runs(range).into_iter().flatten().map(|(key, _)| key.clone()));
                for recent in [tail, &writes] {
                    doomed.extend(recent.range::<[u8], _>(bounds_of(range)).map(|(key, _)| key.clone()));
                }
                for key in doomed {
                    writes.insert(key, None);
                }
            }
            Mutation::Add { key, delta } => {
                let current = match writes.get(key.as_slice()).or_else(|| tail.get(key.as_slice())) {
                    Some(current) => Some(current.as_deref()),
                    None => unflushed.find(key),
                };
                let sum = match current {
                    Some(current) => add_le(current, *delta),
                    None => {
                        let stored = opened(&mut base, &open_base)?
                            .get(key.as_slice())
                            .map_err(StoreError::backend)?;
                        add_le(stored.as_ref().map(|guard| guard.value()), *delta)
                    }
                };
                writes.insert(Bytes::copy_from_slice(key), Some(sum.into()));
            }
        }
    }
    Ok(writes)
}

/// `table`, opened by `open` if it is not yet.
fn opened<'t>(
    table: &'t mut Option<Table>,
    open: &impl Fn() -> Result<Table, StoreError>,
) -> Result<&'t Table, StoreError> {
    match table {
        Some(table) => Ok(table),
        None => Ok(table.insert(open()?)),
    }
}

/// The newest entry of every key in `layers` (oldest first), in key order: what a
/// flush writes into redb.
pub fn newest_of(layers: &[Arc<Layer>]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    let runs = layers.iter().rev().map(|layer| layer.entries.as_slice()).collect();
    Newest::new(runs, false).map(|(key, value)| (&**key, value.as_deref()))
}

fn bounds_of(range: &KeyRange) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (Bound::Included(range.begin.as_slice()), Bound::Excluded(range.end.as_slice()))
}

pub fn get(unflushed: &Unflushed, table: &Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    match unflushed.find(key) {
        Some(value) => Ok(value.map(<[u8]>::to_vec)),
        None => Ok(table.get(key).map_err(StoreError::backend)?.map(|guard| guard.value().to_vec())),
    }
}

/// Merges sorted runs (newest first) lazily into one stream in key order, or in
/// reverse; of equal keys the newest run's entry is kept.
struct Newest<'a> {
    runs: Vec<&'a [Entry]>,
    reverse: bool,
}

impl<'a> Newest<'a> {
    fn new(runs: Vec<&'a [Entry]>, reverse: bool) -> Self {
        Newest { runs, reverse }
    }

    fn head(&self, run: &'a [Entry]) -> Option<&'a Entry> {
        if self.reverse { run.last() } else { run.first() }
    }
}

impl<'a> Iterator for Newest<'a> {
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        let wanted = if self.reverse { Ordering::Greater } else { Ordering::Less };
        let mut best: Option<&'a Entry> = None;
        for run in &self.runs {
            if let Some(entry) = self.head(run)
                && best.is_none_or(|best| entry.0.cmp(&best.0) == wanted)
            {
                best = Some(entry);
            }
        }
        let best = best?;
        let reverse = self.reverse;
        for run in &mut self.runs {
            let head = if reverse { run.last() } else { run.first() };
            if head.is_some_and(|(key, _)| *key == best.0) {
                *run = if reverse { &run[..run.len() - 1] } else { &run[1..] };
            }
        }
        Some(best)
    }
}

/// The pairs of `range`, the unflushed ones over redb's, in order (descending if
/// `reverse`), at most `limit`.
pub fn get_range(
    unflushed: &Unflushed,
    table: &Table,
    range: &KeyRange,
    limit: usize,
    reverse: bool,
) -> Result<Vec<KeyValue>, StoreError> {
    let mut failed = None;
    let stored =
        table.range::<&[u8]>(range.begin.as_slice()..range.end.as_slice()).map_err(StoreError::backend)?;
    let recent = Newest::new(unflushed.runs(range), reverse)
        .map(|(k, v)| (k.to_vec(), v.as_deref().map(<[u8]>::to_vec)));
    type Stored<'a> = Box<
        dyn Iterator<
                Item = Result<
                    (AccessGuard<'a, &'static [u8]>, AccessGuard<'a, &'static [u8]>),
                    redb::StorageError,
                >,
            > + 'a,
    >;
    let (stored, first): (Stored<'_>, _) = if reverse {
        (Box::new(stored.rev()), Ordering::Greater)
    } else {
        (Box::new(stored), Ordering::Less)
    };
    let stored = stored.map_while(|item| match item {
        Ok((key, value)) => Some((key.value().to_vec(), value.value().to_vec())),
        Err(error) => {
            failed = Some(StoreError::backend(error));
            None
        }
    });
    let pairs = merge(recent, stored, limit, first);
    match failed {
        Some(error) => Err(error),
        None => Ok(pairs),
    }
}

/// Merges two sorted streams, `first` saying which of two keys comes first; the
/// unflushed side wins on equal keys and its `None` hides the key.
fn merge(
    recent: impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    stored: impl Iterator<Item = (Vec<u8>, Vec<u8>)>,
    limit: usize,
    first: Ordering,
) -> Vec<KeyValue> {
    let (mut recent, mut stored) = (recent.peekable(), stored.peekable());
    let mut out = Vec::new();
    while out.len() < limit {
        let order = match (recent.peek(), stored.peek()) {
            (None, None) => break,
            (Some(_), None) => first,
            (None, Some(_)) => first.reverse(),
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        let next = if order == first {
            recent.next()
        } else if order == Ordering::Equal {
            stored.next();
            recent.next()
        } else {
            stored.next().map(|(key, value)| (key, Some(value)))
        };
        match next {
            Some((key, Some(value))) => out.push(KeyValue { key, value }),
            Some((_, None)) => {}
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blind commit's buffers become the tail's entries as they are: the bytes a
    /// commit carries are not copied again under the sequencer's lock.
    #[test]
    fn blind_writes_take_over_the_commits_buffers() {
        let (key, value) = (b"k".to_vec(), vec![7; 754]);
        let (key_at, value_at) = (key.as_ptr(), value.as_ptr());
        let mutations = vec![
            Mutation::Set { key, value },
            Mutation::Clear { key: b"gone".to_vec() },
            Mutation::Set { key: b"gone".to_vec(), value: b"back".to_vec() },
        ];
        assert!(mutations.iter().all(is_blind));
        let mut tail = Tail::new();
        tail.extend(blind_writes(mutations));
        let (stored_key, stored_value) =
            tail.get_key_value(b"k".as_slice()).map(|(k, v)| (k.clone(), v.clone())).unzip();
        assert_eq!(stored_key.map(|k| k.as_ptr()), Some(key_at));
        assert_eq!(stored_value.flatten().map(|v| v.as_ptr()), Some(value_at));
        assert_eq!(
            tail.get(b"gone".as_slice()),
            Some(&Some(Bytes::from_static(b"back"))),
            "the later write wins"
        );
        assert!(!is_blind(&Mutation::Add { key: b"n".to_vec(), delta: 1 }));
    }
}
