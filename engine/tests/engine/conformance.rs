//! One suite, generic over the store trait; the macro at the bottom runs it on
//! every backend this build has.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use securix_engine::store::{RangeOptions, Store, StoreError, limits};

/// A store and a key prefix unique to this run, so a shared cluster (FoundationDB)
/// can host many runs.
pub struct Ctx {
    store: Store,
    prefix: Vec<u8>,
}

impl Ctx {
    pub fn new(store: Store) -> Self {
        let prefix = format!("t{:016x}/", rand_u64()).into_bytes();
        Ctx { store, prefix }
    }

    fn key(&self, name: &str) -> Vec<u8> {
        [self.prefix.as_slice(), name.as_bytes()].concat()
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0),
    );
    hasher.finish()
}

fn read_u64(value: Option<Vec<u8>>) -> u64 {
    value.map(|bytes| u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))).unwrap_or(0)
}

pub async fn commit_is_atomic(ctx: &Ctx) {
    let (a, b, c) = (ctx.key("a"), ctx.key("b"), ctx.key("c"));
    // A closure that fails after writing commits nothing.
    let failed: Result<(), StoreError> = ctx
        .store
        .run(|tx| {
            let (a, b) = (a.clone(), b.clone());
            async move {
                tx.set(&a, b"1")?;
                tx.set(&b, b"1")?;
                Err(StoreError::Invalid("the caller changed its mind".into()))
            }
        })
        .await;
    assert!(failed.is_err());
    let tx = ctx.store.begin().await.unwrap();
    assert_eq!(tx.get(&a).await.unwrap(), None);
    assert_eq!(tx.get(&b).await.unwrap(), None);

    // A transaction that loses a conflict commits none of its writes.
    let loser = ctx.store.begin().await.unwrap();
    assert_eq!(loser.get(&c).await.unwrap(), None);
    loser.set(&a, b"loser").unwrap();
    loser.set(&b, b"loser").unwrap();
    let winner = ctx.store.begin().await.unwrap();
    winner.set(&c, b"winner").unwrap();
    winner.commit().await.unwrap();
    assert_eq!(loser.commit().await, Err(StoreError::Conflict));

    // A committed transaction makes all of its writes visible at once.
    ctx.store
        .run(|tx| {
            let (a, b) = (a.clone(), b.clone());
            async move {
                tx.set(&a, b"2")?;
                tx.set(&b, b"2")?;
                Ok::<_, StoreError>(())
            }
        })
        .await
        .unwrap();
    let tx = ctx.store.begin().await.unwrap();
    assert_eq!(tx.get(&a).await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(tx.get(&b).await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(tx.get(&c).await.unwrap(), Some(b"winner".to_vec()));
}

pub async fn concurrent_increments_lose_nothing(ctx: &Ctx) {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 500;
    let counter = Arc::new(ctx.key("counter"));
    let attempts = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (store, counter, attempts) = (ctx.store.clone(), counter.clone(), attempts.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                store
                    .run(|tx| {
                        let (counter, attempts) = (counter.clone(), attempts.clone());
                        async move {
                            attempts.fetch_add(1, Ordering::Relaxed);
                            let value = read_u64(tx.get(&counter).await?);
                            tx.set(&counter, &(value + 1).to_le_bytes())?;
                            Ok::<_, StoreError>(())
                        }
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let tx = ctx.store.begin().await.unwrap();
    assert_eq!(read_u64(tx.get(&counter).await.unwrap()), TASKS * INCREMENTS);
    eprintln!("{} increments took {} attempts", TASKS * INCREMENTS, attempts.load(Ordering::Relaxed));
}

pub async fn atomic_add_never_conflicts(ctx: &Ctx) {
    let counter = Arc::new(ctx.key("added"));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, counter) = (ctx.store.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                // One attempt only: an atomic add must not conflict.
                let tx = store.begin().await.unwrap();
                tx.atomic_add(&counter, 3).unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let tx = ctx.store.begin().await.unwrap();
    assert_eq!(read_u64(tx.get(&counter).await.unwrap()), 8 * 50 * 3);
    // Read-your-writes over a pending add.
    tx.atomic_add(&counter, -200).unwrap();
    assert_eq!(read_u64(tx.get(&counter).await.unwrap()), 1000);
}

pub async fn ranges_are_ordered_limited_and_reversible(ctx: &Ctx) {
    let names = ["m", "c", "x", "a", "k", "b", "z", "q"];
    ctx.store
        .run(|tx| {
            let keys: Vec<Vec<u8>> = names.iter().map(|n| ctx.key(n)).collect();
            async move {
                for key in keys {
                    tx.set(&key, &key)?;
                }
                Ok::<_, StoreError>(())
            }
        })
        .await
        .unwrap();
    let (begin, end) = (ctx.key(""), ctx.key("\u{7f}"));
    let tx = ctx.store.begin().await.unwrap();
    let names_of = |pairs: Vec<securix_engine::store::KeyValue>| -> String {
        pairs.into_iter().map(|p| String::from_utf8_lossy(&p.key[ctx.prefix.len()..]).into_owned()).collect()
    };
    let all = tx.get_range(&begin, &end, RangeOptions::default()).await.unwrap();
    assert_eq!(names_of(all), "abckmqxz");
    let first3 = tx.get_range(&begin, &end, RangeOptions::limit(3)).await.unwrap();
    assert_eq!(names_of(first3), "abc");
    let last3 = tx.get_range(&begin, &end, RangeOptions::limit(3).reversed()).await.unwrap();
    assert_eq!(names_of(last3), "zxq");
    let middle = tx.get_range(&ctx.key("c"), &ctx.key("q"), RangeOptions::default()).await.unwrap();
    assert_eq!(names_of(middle), "ckm", "the end of a range is exclusive");

    // The transaction's own writes take part in its range reads.
    tx.clear(&ctx.key("a")).unwrap();
    tx.set(&ctx.key("d"), b"new").unwrap();
    tx.clear_range(&ctx.key("p"), &ctx.key("y")).unwrap();
    let mixed = tx.get_range(&begin, &end, RangeOptions::default()).await.unwrap();
    assert_eq!(names_of(mixed), "bcdkmz");
    let mixed3 = tx.get_range(&begin, &end, RangeOptions::limit(3)).await.unwrap();
    assert_eq!(names_of(mixed3), "bcd");
    let mixed_rev = tx.get_range(&begin, &end, RangeOptions::limit(2).reversed()).await.unwrap();
    assert_eq!(names_of(mixed_rev), "zm");
    tx.commit().await.unwrap();
    let after = ctx.store.begin().await.unwrap();
    let all = after.get_range(&begin, &end, RangeOptions::default()).await.unwrap();
    assert_eq!(names_of(all), "bcdkmz");
}

pub async fn conflicting_transaction_retries_and_succeeds(ctx: &Ctx) {
    let key = ctx.key("contended");
    let attempts = AtomicU32::new(0);
    let result = ctx
        .store
        .run(|tx| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let (store, key) = (ctx.store.clone(), key.clone());
            async move {
                let seen = tx.get(&key).await?;
                if attempt == 1 {
                    // Someone else commits to what we just read.
                    let other = store.begin().await?;
                    other.set(&key, b"theirs")?;
                    other.commit().await?;
                }
                let mut value = seen.unwrap_or_default();
                value.extend_from_slice(b"+ours");
                tx.set(&key, &value)?;
                Ok::<_, StoreError>(attempt)
            }
        })
        .await
        .unwrap();
    assert_eq!(result, 2, "the first attempt conflicts, the second commits");
    let tx = ctx.store.begin().await.unwrap();
    assert_eq!(tx.get(&key).await.unwrap(), Some(b"theirs+ours".to_vec()));
}

/// A transaction left open while over a thousand others commit (enough for the
/// in-process resolver to prune) still conflicts with the first of them: a backend
/// may forget old writes, but not those an open transaction could conflict with.
pub async fn a_long_open_transaction_still_sees_conflicts(ctx: &Ctx) {
    let key = ctx.key("read-long-ago");
    let long = ctx.store.begin().await.unwrap();
    assert_eq!(long.get(&key).await.unwrap(), None);
    let first = ctx.store.begin().await.unwrap();
    first.set(&key, b"first").unwrap();
    first.commit().await.unwrap();
    let writers = (0..16).map(|writer| {
        let (store, prefix) = (ctx.store.clone(), ctx.key(&format!("later/{writer}")));
        tokio::spawn(async move {
            for n in 0..80u32 {
                let tx = store.begin().await.unwrap();
                tx.set(&[prefix.as_slice(), &n.to_be_bytes()].concat(), b"x").unwrap();
                tx.commit().await.unwrap();
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    // Read-modify-write of what it read: committing would lose the first update.
    long.set(&key, b"stale").unwrap();
    assert!(matches!(long.commit().await, Err(StoreError::Conflict)));
    let tx = ctx.store.begin().await.unwrap();
    assert_eq!(tx.get(&key).await.unwrap(), Some(b"first".to_vec()));
}

pub async fn oversize_writes_are_refused(ctx: &Ctx) {
    let tx = ctx.store.begin().await.unwrap();
    let big_key = vec![b'k'; limits::MAX_KEY_BYTES + 1];
    assert!(matches!(tx.set(&big_key, b"v"), Err(StoreError::KeyTooLarge { .. })));
    assert!(matches!(tx.get(&big_key).await, Err(StoreError::KeyTooLarge { .. })));
    let big_value = vec![0u8; limits::MAX_VALUE_BYTES + 1];
    assert!(matches!(tx.set(&ctx.key("v"), &big_value), Err(StoreError::ValueTooLarge { .. })));
    // Exactly at the limits is fine.
    tx.set(&ctx.key("max"), &vec![0u8; limits::MAX_VALUE_BYTES]).unwrap();
    // 101 values of 100 kB pass the 10 MB transaction limit.
    let too_much =
        (0..101).try_for_each(|i| tx.set(&ctx.key(&format!("bulk{i}")), &vec![1u8; limits::MAX_VALUE_BYTES]));
    assert!(matches!(too_much, Err(StoreError::TransactionTooLarge { .. })), "{too_much:?}");
    let tx = ctx.store.begin().await.unwrap();
    let backwards = tx.get_range(b"b", b"a", RangeOptions::default()).await;
    assert!(matches!(backwards, Err(StoreError::Invalid(_))));
    // Errors are values: the message names the limit.
    let message = StoreError::ValueTooLarge { size: 100_001, limit: 100_000 }.to_string();
    assert!(message.contains("ST0004") && message.contains("100000"), "{message}");
}

pub async fn read_your_writes(ctx: &Ctx) {
    let tx = ctx.store.begin().await.unwrap();
    let key = ctx.key("ryw");
    assert_eq!(tx.get(&key).await.unwrap(), None);
    tx.set(&key, b"mine").unwrap();
    assert_eq!(tx.get(&key).await.unwrap(), Some(b"mine".to_vec()));
    let other = ctx.store.begin().await.unwrap();
    assert_eq!(other.get(&key).await.unwrap(), None, "uncommitted writes are private");
    tx.commit().await.unwrap();
    assert_eq!(other.get(&key).await.unwrap(), None, "a snapshot does not move");
    let later = ctx.store.begin().await.unwrap();
    assert_eq!(later.get(&key).await.unwrap(), Some(b"mine".to_vec()));
}

/// A transaction's writes land in the order they were made, however many: a range
/// cleared and then partly written again keeps the new keys.
pub async fn writes_apply_in_order(ctx: &Ctx) {
    let key = |i: usize| ctx.key(&format!("ordered/{i:03}"));
    let (begin, end) = (ctx.key("ordered/"), ctx.key("ordered0"));
    let tx = ctx.store.begin().await.unwrap();
    for i in 0..80 {
        tx.set(&key(i), b"old").unwrap();
    }
    tx.commit().await.unwrap();
    let tx = ctx.store.begin().await.unwrap();
    tx.clear_range(&begin, &end).unwrap();
    for i in (0..80).step_by(2) {
        tx.set(&key(i), b"new").unwrap();
    }
    tx.clear(&key(78)).unwrap();
    tx.commit().await.unwrap();
    let tx = ctx.store.begin().await.unwrap();
    let found = tx.get_range(&begin, &end, Default::default()).await.unwrap();
    let expected: Vec<Vec<u8>> = (0..78).step_by(2).map(key).collect();
    assert_eq!(found.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>(), expected);
    assert!(found.iter().all(|kv| kv.value == b"new"));
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            async fn ctx() -> Option<(Ctx, Box<dyn std::any::Any + Send>)> {
                let opened: Option<(Store, Box<dyn std::any::Any + Send>)> = $open;
                opened.map(|(store, guard)| (Ctx::new(store), guard))
            }

            conformance!(@tests commit_is_atomic, concurrent_increments_lose_nothing,
                atomic_add_never_conflicts, ranges_are_ordered_limited_and_reversible,
                conflicting_transaction_retries_and_succeeds, a_long_open_transaction_still_sees_conflicts,
                oversize_writes_are_refused,
                read_your_writes, writes_apply_in_order);
        }
    };
    (@tests $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some((ctx, _guard)) = ctx().await else {
                    eprintln!("backend not configured here; skipped");
                    return;
                };
                super::$name(&ctx).await;
            }
        )*
    };
}

conformance!(memory, Some((Store::memory(), Box::new(()))));

conformance!(redb, {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_redb(&dir.path().join("store.redb"), Default::default()).unwrap();
    Some((store, Box::new(dir)))
});

conformance!(redb_ungrouped, {
    let dir = tempfile::tempdir().unwrap();
    let options = securix_engine::store::RedbOptions { group_commits: false, ..Default::default() };
    let store = Store::open_redb(&dir.path().join("store.redb"), options).unwrap();
    Some((store, Box::new(dir)))
});

#[cfg(feature = "fdb")]
conformance!(fdb, {
    std::env::var("FDB_CLUSTER_FILE").ok().map(|path| {
        let backend = securix_engine::store::FdbBackend::open(Some(&path)).unwrap();
        (Store::new(backend), Box::new(()) as Box<dyn std::any::Any + Send>)
    })
});

/// The whole suite on one PostgreSQL server (started once: initdb is slow), each
/// check on a fresh connection pool.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_whole_suite() {
    use securix_engine::store::PostgresBackend;

    let server = crate::support::postgres::Postgres::start();
    let ctx = || async {
        let backend = PostgresBackend::connect(&server.url, 16).await.unwrap();
        Ctx::new(Store::new(backend))
    };
    commit_is_atomic(&ctx().await).await;
    concurrent_increments_lose_nothing(&ctx().await).await;
    atomic_add_never_conflicts(&ctx().await).await;
    ranges_are_ordered_limited_and_reversible(&ctx().await).await;
    conflicting_transaction_retries_and_succeeds(&ctx().await).await;
    a_long_open_transaction_still_sees_conflicts(&ctx().await).await;
    oversize_writes_are_refused(&ctx().await).await;
    read_your_writes(&ctx().await).await;
    writes_apply_in_order(&ctx().await).await;
}
