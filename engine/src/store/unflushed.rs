//! Commits the redb backend acknowledged (they are in its commit log) but has not
//! flushed into redb yet: a persistent ordered map, cheap to clone into every
//! snapshot, of the newest value of each key written since the last flush — `None`
//! for a key cleared. Reads look here first, then in redb. (Not to be confused with
//! a transaction's own writes over its snapshot: `tx`'s write buffer.)

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use imbl::OrdMap;
use redb::{AccessGuard, ReadOnlyTable};

use super::backend::{KeyRange, Mutation, add_le};
use super::{KeyValue, StoreError};

/// Keys and values are shared slices: publishing clones the map's nodes on the next
/// write, and cloning a shared slice is a count, not a copy.
pub type Unflushed = OrdMap<Bytes, Option<Bytes>>;
type Bytes = Arc<[u8]>;

/// `[begin, end)` as the map takes it.
fn bounds(range: &KeyRange) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (Bound::Included(range.begin.as_slice()), Bound::Excluded(range.end.as_slice()))
}
pub type Table = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// Applies `mutations` in order on top of `base`, redb as it is now.
pub fn apply(unflushed: &mut Unflushed, mutations: &[Mutation], base: &Table) -> Result<(), StoreError> {
    for mutation in mutations {
        match mutation {
            Mutation::Set { key, value } => {
                unflushed.insert(key.as_slice().into(), Some(value.as_slice().into()));
            }
            Mutation::Clear { key } => {
                unflushed.insert(key.as_slice().into(), None);
            }
            Mutation::ClearRange(range) => {
                let bounds = range.begin.as_slice()..range.end.as_slice();
                let mut doomed: Vec<Bytes> = Vec::new();
                for item in base.range::<&[u8]>(bounds).map_err(StoreError::backend)? {
                    let (key, _) = item.map_err(StoreError::backend)?;
                    doomed.push(key.value().into());
                }
                doomed.extend(unflushed.range::<_, [u8]>(self::bounds(range)).map(|(key, _)| key.clone()));
                for key in doomed {
                    unflushed.insert(key, None);
                }
            }
            Mutation::Add { key, delta } => {
                let sum = match unflushed.get(key.as_slice()) {
                    Some(current) => add_le(current.as_deref(), *delta),
                    None => {
                        let stored = base.get(key.as_slice()).map_err(StoreError::backend)?;
                        add_le(stored.as_ref().map(|guard| guard.value()), *delta)
                    }
                };
                unflushed.insert(key.as_slice().into(), Some(sum.into()));
            }
        }
    }
    Ok(())
}

pub fn get(unflushed: &Unflushed, table: &Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    match unflushed.get(key) {
        Some(value) => Ok(value.as_deref().map(<[u8]>::to_vec)),
        None => Ok(table.get(key).map_err(StoreError::backend)?.map(|guard| guard.value().to_vec())),
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
    let recent = unflushed
        .range::<_, [u8]>(bounds(range))
        .map(|(k, v)| (k.to_vec(), v.as_deref().map(<[u8]>::to_vec)));
    type Stored<'a> = Box<
        dyn Iterator<
                Item = Result<
                    (AccessGuard<'a, &'static [u8]>, AccessGuard<'a, &'static [u8]>),
                    redb::StorageError,
                >,
            > + 'a,
    >;
    let (stored, recent, first): (Stored<'_>, Box<dyn Iterator<Item = _>>, _) = if reverse {
        (Box::new(stored.rev()), Box::new(recent.rev()), Ordering::Greater)
    } else {
        (Box::new(stored), Box::new(recent), Ordering::Less)
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
