//! The operator's listings at `N` (default 100,000) entities on redb, one
//! connection each over 16 integrations: the latency of one page (100 items) of
//! entities, of connections (all; one integration; a status no connection has,
//! where the page's scan budget bounds the work) and of entities by id prefix.
//! Each listing is walked once to collect its cursors, then pages drawn evenly
//! across it are timed; p50/p95 are printed beside a baseline measured in the same
//! run: a bare range read of the keys one page of entities covers.
//!
//! `cargo bench -p securix-engine --bench admin_lists` (`N=20000` for a quick look)

use std::time::{Duration, Instant};

use securix_engine::admin::ConnectionFilter;
use securix_engine::model::connection::ConnectionStatus;
use securix_engine::model::keys;
use securix_engine::model::page::PageRequest;
use securix_engine::store::{RangeOptions, RedbOptions, Store};
use securix_engine::util::clock::{Clock, SystemClock};
use securix_engine::vault::MasterKey;
use securix_engine::{Engine, EngineResult};

#[path = "support/seed.rs"]
mod seed;

/// The server's allocator (see `cluster/src/main.rs`), so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ENTITIES: usize = 100_000;
const INTEGRATIONS: usize = 16;
/// Pages timed per listing, drawn evenly across it.
const SAMPLES: usize = 200;
const PAGE: usize = 100;

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.95))
}

/// Walks a listing from its start, returning the cursor of every page.
async fn cursors<F, Fut>(mut page: F) -> EngineResult<Vec<Option<String>>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = EngineResult<Option<String>>>,
{
    let mut all = vec![None];
    while let Some(next) =
        page(PageRequest { limit: Some(PAGE), cursor: all.last().cloned().flatten() }).await?
    {
        all.push(Some(next));
    }
    Ok(all)
}

/// p50/p95 of fetching pages at `cursors` drawn evenly.
async fn timed<F, Fut>(cursors: &[Option<String>], mut page: F) -> EngineResult<(f64, f64)>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = EngineResult<Option<String>>>,
{
    let step = (cursors.len() / SAMPLES).max(1);
    let mut samples = Vec::new();
    for cursor in cursors.iter().step_by(step) {
        let started = Instant::now();
        page(PageRequest { limit: Some(PAGE), cursor: cursor.clone() }).await?;
        samples.push(started.elapsed());
    }
    Ok(percentiles(samples))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(ENTITIES);
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let engine = Engine::builder()
            .store(Store::open_redb(&dir.path().join("bench.redb"), RedbOptions::default())?)
            .master_key(MasterKey::generate())
            .build()
            .await?;
        let project = engine.create_project("Bench").await?;
        let p = project.id.as_str();
        let now = SystemClock.now();
        let seeding = Instant::now();
        seed::connections(&engine, p, n, INTEGRATIONS, now, now.plus_secs(3600)).await?;
        println!("seeded {n} entities in {:.1} s; pages of {PAGE}, {SAMPLES} drawn per listing", seeding.elapsed().as_secs_f64());

        // The baseline: the keys one page of entities spans, read bare.
        let space = keys::project_space(p).subspace(&("entity",));
        let tx = engine.store().begin().await?;
        let (begin, end) = space.range();
        let sample = tx.get_range(&begin, &end, RangeOptions::limit(1000)).await?;
        let entities_in_sample = sample
            .iter()
            .filter(|pair| matches!(space.unpack::<(String, String, String)>(&pair.key), Ok((_, kind, _)) if kind == "conn"))
            .count();
        let pairs_per_entity = sample.len() as f64 / entities_in_sample.max(1) as f64;
        drop(tx);
        let span = (PAGE as f64 * pairs_per_entity).ceil() as usize;
        let mut bare = Vec::new();
        for i in (0..n).step_by((n / SAMPLES).max(1)) {
            let from = space.pack(&(format!("user-{i:06}"),));
            let started = Instant::now();
            let tx = engine.store().begin().await?;
            tx.get_range(&from, &end, RangeOptions::limit(span)).await?;
            bare.push(started.elapsed());
        }
        let (bare50, bare95) = percentiles(bare);
        println!("{:<44} p50 {bare50:>7.2} ms  p95 {bare95:>7.2} ms  ({span} keys)", "baseline: bare range read of a page's keys");

        let entities = |request: PageRequest| {
            let engine = engine.clone();
            async move { Ok(engine.list_entities(p, None, &request).await?.next_cursor) }
        };
        let prefixed = |request: PageRequest| {
            let engine = engine.clone();
            async move { Ok(engine.list_entities(p, Some("user-05"), &request).await?.next_cursor) }
        };
        let connections = |filter: ConnectionFilter| {
            let engine = engine.clone();
            move |request: PageRequest| {
                let (engine, filter) = (engine.clone(), filter.clone());
                async move { Ok(engine.list_project_connections(p, &filter, &request).await?.next_cursor) }
            }
        };
        let one_integration = ConnectionFilter { integration: Some("up3".into()), ..ConnectionFilter::default() };
        let none_match = ConnectionFilter { status: Some(ConnectionStatus::ReauthRequired), ..ConnectionFilter::default() };
        let report = |name: &str, pages: usize, (p50, p95): (f64, f64)| {
            println!(
                "{name:<44} p50 {p50:>7.2} ms  p95 {p95:>7.2} ms  ({pages} pages; p50 {:.1}× the baseline)",
                p50 / bare50
            );
        };
        let all = cursors(entities).await?;
        report("entities", all.len(), timed(&all, entities).await?);
        let all = cursors(prefixed).await?;
        report("entities ?q=user-05", all.len(), timed(&all, prefixed).await?);
        for (name, filter) in [
            ("connections", ConnectionFilter::default()),
            ("connections ?integration=up3 (1 in 16)", one_integration),
            ("connections ?status=reauth_required (none)", none_match),
        ] {
            let page = connections(filter);
            let all = cursors(&page).await?;
            report(name, all.len(), timed(&all, &page).await?);
        }
        engine.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
