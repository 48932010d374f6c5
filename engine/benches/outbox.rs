//! The webhook outbox beside a black hole: the rate of deliveries to a healthy sink
//! while another project has 10,000 deliveries queued for an endpoint that accepts
//! connections and never answers, as a ratio of the rate with no black hole,
//! measured in the same run (target: close to 1×; before per-endpoint bounds and
//! circuits, a black hole held every shard's round for its 15 s timeout).
//!
//! `cargo bench -p securix-engine --bench outbox`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use securix_engine::util::clock::{Clock, SystemClock};

#[path = "support/backlog.rs"]
mod backlog;
#[path = "support/keepalive.rs"]
mod keepalive;

const HEALTHY: usize = 2_000;
const STUCK: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let alone = healthy_rate(false).await?;
        let beside = healthy_rate(true).await?;
        println!("healthy sink alone:                 {alone:>8.0} deliveries/s");
        println!("beside {STUCK} stuck on a black hole: {beside:>8.0} deliveries/s");
        println!("ratio beside/alone: {:.2}x (target close to 1x)", beside / alone);
        Ok(())
    })
}

/// Deliveries per second to a healthy sink, from emitting `HEALTHY` events to the
/// last one received, with the engine's own delivery worker.
async fn healthy_rate(with_black_hole: bool) -> Result<f64, Box<dyn std::error::Error>> {
    let engine = backlog::delivering_engine(Duration::from_millis(20)).await?;
    if with_black_hole {
        let stuck = engine.create_project("Stuck").await?;
        engine.add_webhook_endpoint(&stuck.id, &backlog::black_hole().await?, None).await?;
        backlog::emit(&engine, &stuck.id, STUCK, SystemClock.now()).await?;
        // The worker has taken the black hole's slots by now.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let sink = keepalive::serve(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
        String::new()
    })
    .await?;
    let live = engine.create_project("Live").await?;
    engine.add_webhook_endpoint(&live.id, &format!("{sink}/hook"), None).await?;
    let started = Instant::now();
    backlog::emit(&engine, &live.id, HEALTHY, SystemClock.now()).await?;
    while received.load(Ordering::Relaxed) < HEALTHY {
        if started.elapsed() > Duration::from_secs(300) {
            return Err("the healthy sink did not get every delivery in 5 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(HEALTHY as f64 / started.elapsed().as_secs_f64())
}
