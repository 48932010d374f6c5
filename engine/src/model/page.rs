//! Cursor pages over one subspace of the store, for the operator's listings.
//!
//! A page ends at a key and the next begins just after it, so a page never repeats
//! or skips a record that existed before the listing began, whatever is written
//! meanwhile (a record added behind the cursor shows up in no page; one added ahead
//! of it in a later page). The cursor names its listing and its key (base64url):
//! one from another listing, or a key outside the listing's subspace, is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::RecordError;
use crate::store::{KeyValue, RangeOptions, Subspace, Tx};

/// Items per page when the caller names no limit, and the most it may ask for.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 500;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

/// What a caller asks of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn limit(&self) -> Result<usize, RecordError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit @ 1..=MAX_LIMIT) => Ok(limit),
            Some(_) => Err(RecordError::Invalid { what: "limit", why: format!("must be 1 to {MAX_LIMIT}") }),
        }
    }
}

/// The cursor of a page that ends at `key` (for listings that page by hand).
pub fn cursor_of(listing: &str, key: &[u8]) -> String {
    let mut raw = listing.as_bytes().to_vec();
    raw.push(0);
    raw.extend_from_slice(key);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The key a cursor of `listing` ends at, if it is one of this listing's.
fn key_of(listing: &str, space: &Subspace, cursor: &str) -> Result<Vec<u8>, RecordError> {
    let refused = || RecordError::Invalid { what: "cursor", why: "not one this listing issued".into() };
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| refused())?;
    let key = raw
        .strip_prefix(listing.as_bytes())
        .and_then(|rest| rest.strip_prefix(&[0]))
        .filter(|key| space.is_start_of(key))
        .ok_or_else(refused)?;
    Ok(key.to_vec())
}

/// One page of the pairs in `space`, in key order, for the listing named `listing`.
pub async fn read(
    tx: &Tx,
    listing: &str,
    space: &Subspace,
    request: &PageRequest,
) -> Result<Page<KeyValue>, RecordError> {
    let limit = request.limit()?;
    let (mut begin, end) = space.range();
    if let Some(cursor) = &request.cursor {
        begin = key_of(listing, space, cursor)?;
        // Just after the cursor's key.
        begin.push(0);
    }
    let mut pairs = tx.get_range(&begin, &end, RangeOptions::limit(limit + 1)).await?;
    let next_cursor = if pairs.len() > limit {
        pairs.truncate(limit);
        pairs.last().map(|last| cursor_of(listing, &last.key))
    } else {
        None
    };
    Ok(Page { items: pairs, next_cursor })
}

/// What a scan's visitor says of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The pair was looked at (kept or not): go on.
    Next,
    /// The page is full before this pair: stop, and start the next page at it.
    Full,
}

/// Pairs read per round trip of a scan.
const SCAN_BATCH: usize = 256;

/// Reads `range` (within the listing's `space`) from the request's cursor on, in
/// key order, handing each pair to `visit` until it says the page is `Full`, the
/// range ends, or `budget` pairs were read; for listings whose items are some of a
/// subspace's records (an entity among its connections), so a page's work stays
/// bounded however sparse they are: a page may then hold fewer items than asked.
/// Returns the next page's cursor.
pub async fn scan(
    tx: &Tx,
    listing: &str,
    space: &Subspace,
    (range_begin, end): (Vec<u8>, Vec<u8>),
    cursor: Option<&str>,
    budget: usize,
    mut visit: impl FnMut(&KeyValue) -> Result<Step, RecordError>,
) -> Result<Option<String>, RecordError> {
    let mut begin = match cursor {
        Some(cursor) => {
            let mut after = key_of(listing, space, cursor)?;
            after.push(0);
            after.max(range_begin)
        }
        None => range_begin,
    };
    let mut read = 0;
    let mut last: Option<Vec<u8>> = None;
    loop {
        let pairs = tx.get_range(&begin, &end, RangeOptions::limit(SCAN_BATCH)).await?;
        for pair in &pairs {
            if visit(pair)? == Step::Full {
                return Ok(last.map(|key| cursor_of(listing, &key)));
            }
            last = Some(pair.key.clone());
            read += 1;
        }
        if pairs.len() < SCAN_BATCH {
            return Ok(None);
        }
        if read >= budget {
            return Ok(last.map(|key| cursor_of(listing, &key)));
        }
        let Some(key) = &last else { return Ok(None) };
        begin = key.clone();
        begin.push(0);
    }
}

/// One page of the JSON records in `space`, decoded.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    tx: &Tx,
    listing: &str,
    space: &Subspace,
    request: &PageRequest,
    what: &'static str,
) -> Result<Page<T>, RecordError> {
    let page = read(tx, listing, space, request).await?;
    let items = page.items.iter().map(|pair| super::decode(&pair.value, what)).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor: page.next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    async fn page(
        store: &Store,
        space: &Subspace,
        request: &PageRequest,
    ) -> Result<Page<String>, RecordError> {
        let tx = store.begin().await?;
        let page = read(&tx, "names", space, request).await?;
        Ok(page.map(|pair| String::from_utf8(pair.value).unwrap()))
    }

    #[tokio::test]
    async fn pages_neither_repeat_nor_skip_what_was_there_while_others_write() {
        let store = Store::memory();
        let space = Subspace::all().subspace(&("names",));
        let put = |name: &str| {
            let (store, key) = (store.clone(), space.pack(&(name,)));
            let value = name.to_owned();
            async move {
                store
                    .run(|tx| {
                        let (k, v) = (key.clone(), value.clone());
                        async move { tx.set(&k, v.as_bytes()) }
                    })
                    .await
                    .unwrap()
            }
        };
        for name in ["b", "d", "f", "h", "j"] {
            put(name).await;
        }
        let first = page(&store, &space, &PageRequest { limit: Some(2), cursor: None }).await.unwrap();
        assert_eq!(first.items, ["b", "d"]);
        // Written meanwhile: one behind the cursor, one ahead of it.
        put("a").await;
        put("g").await;
        let cursor = first.next_cursor.clone();
        let second = page(&store, &space, &PageRequest { limit: Some(2), cursor }).await.unwrap();
        assert_eq!(second.items, ["f", "g"]);
        let third =
            page(&store, &space, &PageRequest { limit: Some(2), cursor: second.next_cursor }).await.unwrap();
        assert_eq!(third.items, ["h", "j"]);
        assert_eq!(third.next_cursor, None, "the last page says so");

        let other = Subspace::all().subspace(&("other",));
        let foreign = cursor_of("names", &other.pack(&("x",)));
        for bad in [foreign, "!!".into(), cursor_of("keys", &space.pack(&("b",)))] {
            let refused = page(&store, &space, &PageRequest { limit: None, cursor: Some(bad) }).await;
            assert!(matches!(refused, Err(RecordError::Invalid { what: "cursor", .. })), "{refused:?}");
        }
        for limit in [0, MAX_LIMIT + 1] {
            let refused = page(&store, &space, &PageRequest { limit: Some(limit), cursor: None }).await;
            assert!(matches!(refused, Err(RecordError::Invalid { what: "limit", .. })));
        }
    }
}
