//! Membership on one shared in-memory store: shards split between live nodes, and a
//! partitioned node (its lease lapsed) stops owning shards and cannot commit a
//! fenced write, while the other takes its shards over.

use std::time::Duration;

use securix_engine::EngineError;
use securix_engine::model::keys::SHARDS;
use securix_engine::sharding::placement::Placement;
use securix_engine::store::Store;

use super::{Membership, NodeSettings};

const LEASE: Duration = Duration::from_millis(300);

fn node(id: &str, store: &Store) -> std::sync::Arc<Membership> {
    Membership::new(
        NodeSettings { node_id: id.into(), address: format!("http://{id}"), mesh: None, lease: LEASE },
        store.clone(),
    )
}

fn owned(membership: &Membership) -> Vec<u32> {
    let placement = membership.placement();
    (0..SHARDS).filter(|s| placement.owns(*s)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_node_loses_its_shards_and_cannot_commit() {
    let store = Store::memory();
    let (a, b) = (node("a", &store), node("b", &store));
    for _ in 0..3 {
        a.tick().await.unwrap();
        b.tick().await.unwrap();
    }
    let (mine, theirs) = (owned(&a), owned(&b));
    assert_eq!(mine.len() + theirs.len(), SHARDS as usize, "{mine:?} {theirs:?}");
    assert!(!mine.is_empty() && !theirs.is_empty());
    assert!(mine.iter().all(|s| !theirs.contains(s)), "no shard has two owners");

    // A is cut off from the store: it stops renewing. Its lease lapses on its own
    // clock, so it stops working on its shards even before B takes them.
    let shard = mine[0];
    tokio::time::sleep(LEASE + Duration::from_millis(50)).await;
    assert!(owned(&a).is_empty(), "a node whose lease lapsed owns nothing");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while owned(&b).len() < SHARDS as usize {
        assert!(tokio::time::Instant::now() < deadline, "B never took A's shards");
        b.tick().await.unwrap();
        tokio::time::sleep(LEASE / 4).await;
    }

    // A write A fences on its old shard cannot commit.
    let placement = a.placement();
    let fenced = store
        .run(|tx| {
            let placement = placement.clone();
            async move {
                placement.fence(&tx, shard).await?;
                tx.set(b"written by a", b"1")?;
                Ok::<_, EngineError>(())
            }
        })
        .await;
    assert!(matches!(fenced, Err(EngineError::Conflict(_))), "{fenced:?}");
    let tx = store.begin().await.unwrap();
    assert_eq!(tx.get(b"written by a").await.unwrap(), None);

    // Back in touch, A renews and gets shards back from B.
    for _ in 0..4 {
        a.tick().await.unwrap();
        b.tick().await.unwrap();
    }
    assert!(!owned(&a).is_empty(), "a rejoining node gets shards back");
    assert_eq!(owned(&a).len() + owned(&b).len(), SHARDS as usize);
}
