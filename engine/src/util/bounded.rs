//! Running a batch of work with two bounds at once: in all, and per group (the
//! background refresher's renewals: so many per node, fewer per OAuth client, so
//! one provider's slow token endpoint or rate limit does not hold up the others).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::Semaphore;

/// Runs `work` on every item, at most `per_group` items of one group (by `group`)
/// and `overall` items in all at the same time. Returns the outputs in no order.
pub async fn run<T, K, F, Fut>(
    items: Vec<T>,
    group: impl Fn(&T) -> K,
    per_group: usize,
    overall: usize,
    work: F,
) -> Vec<Fut::Output>
where
    K: Ord,
    F: Fn(T) -> Fut,
    Fut: Future,
{
    let mut groups: BTreeMap<K, Vec<T>> = BTreeMap::new();
    for item in items {
        groups.entry(group(&item)).or_default().push(item);
    }
    let permits = Arc::new(Semaphore::new(overall.max(1)));
    let work = &work;
    let runs = groups.into_values().map(|items| {
        let permits = permits.clone();
        futures_util::stream::iter(items)
            .map(move |item| {
                let permits = permits.clone();
                async move {
                    // Never closed: acquiring fails only on a closed semaphore.
                    let _permit = permits.acquire_owned().await.ok();
                    work(item).await
                }
            })
            .buffer_unordered(per_group.max(1))
            .collect::<Vec<_>>()
    });
    futures_util::future::join_all(runs).await.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Counts what runs at once, in all and per group, and the most seen.
    #[derive(Default)]
    struct Gauge {
        now: Mutex<(usize, HashMap<u8, usize>)>,
        most: Mutex<(usize, HashMap<u8, usize>)>,
    }

    impl Gauge {
        fn enter(&self, group: u8) {
            let mut now = self.now.lock().unwrap();
            now.0 += 1;
            *now.1.entry(group).or_default() += 1;
            let mut most = self.most.lock().unwrap();
            most.0 = most.0.max(now.0);
            let seen = most.1.entry(group).or_default();
            *seen = (*seen).max(now.1[&group]);
        }

        fn leave(&self, group: u8) {
            let mut now = self.now.lock().unwrap();
            now.0 -= 1;
            *now.1.get_mut(&group).unwrap() -= 1;
        }
    }

    #[tokio::test]
    async fn neither_bound_is_passed_and_every_item_runs() {
        // 40 items of one busy group, 3 of two quiet ones each.
        let items: Vec<u8> = std::iter::repeat_n(0, 40).chain([1, 1, 1, 2, 2, 2]).collect();
        let gauge = Gauge::default();
        let done = run(
            items,
            |g| *g,
            4,
            6,
            |g| {
                let gauge = &gauge;
                async move {
                    gauge.enter(g);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    gauge.leave(g);
                    g
                }
            },
        )
        .await;
        assert_eq!(done.len(), 46);
        let most = gauge.most.lock().unwrap();
        assert_eq!(most.0, 6, "the overall bound is reached and never passed");
        assert_eq!(most.1[&0], 4, "the busy group is held to its own bound");
        assert!(most.1[&1] >= 1 && most.1[&2] >= 1, "the quiet groups ran beside it");
    }
}
