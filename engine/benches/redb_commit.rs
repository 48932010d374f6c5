//! Durable writes of a session-sized record on redb: one writer, then 64 concurrent
//! writers with and without group commit. Prints commits per second and the ratio
//! grouped / ungrouped (target: at least 10× with 64 writers).
//!
//! `cargo bench -p securix-engine --bench redb_commit`

use std::time::Instant;

use securix_engine::model::ids;
use securix_engine::model::session::{AuthSession, Flow, SessionProvider, SessionStatus};
use securix_engine::store::{RedbOptions, Store, StoreError};
use securix_engine::util::clock::Timestamp;

#[path = "support/median.rs"]
mod median;
use median::median;

/// The server's allocator (see `cluster/src/main.rs`), so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn session_record() -> Vec<u8> {
    let providers = ["gmail", "drive", "github"]
        .into_iter()
        .map(|key| {
            let scopes = vec!["https://www.googleapis.com/auth/gmail.readonly".to_string(); 2];
            (
                key.to_string(),
                SessionProvider {
                    scopes,
                    status: SessionStatus::Pending,
                    connection_id: None,
                    params: Default::default(),
                    reconnect: None,
                },
            )
        })
        .collect();
    let session = AuthSession {
        id: ids::mint("ses"),
        project_id: ids::mint("prj"),
        agent_id: "support-bot".into(),
        entity_id: "user_123".into(),
        flow: Flow::Popup,
        status: SessionStatus::Pending,
        providers,
        sxc_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        origin: Some("https://app.example".into()),
        device_code: None,
        interval_secs: 5,
        browser_binding: None,
        error: None,
        created_at: Timestamp(1_700_000_000_000),
        expires_at: Timestamp(1_700_000_600_000),
    };
    serde_json::to_vec(&session).unwrap_or_default()
}

/// Commits per second with `writers` tasks each committing `per_writer` records.
async fn measure(options: RedbOptions, writers: usize, per_writer: usize) -> Result<f64, StoreError> {
    // What earlier runs left for the kernel to write back would slow this one's fsyncs.
    std::process::Command::new("sync").status().map_err(|e| StoreError::Backend(e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
    let store = Store::open_redb(&dir.path().join("bench.redb"), options)?;
    let record = std::sync::Arc::new(session_record());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (store, record) = (store.clone(), record.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..per_writer {
                let key = format!("session/{writer}/{n}").into_bytes();
                store
                    .run(|tx| {
                        let (key, record) = (key.clone(), record.clone());
                        async move { tx.set(&key, &record) }
                    })
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| StoreError::Backend(e.to_string()))??;
    }
    Ok((writers * per_writer) as f64 / started.elapsed().as_secs_f64())
}

/// Rounds of (ungrouped, grouped), alternated so both see the same machine; the
/// figures printed are each round's and the median.
const ROUNDS: usize = 3;
/// Commits each of the 64 writers makes in a run: 128,000, about 31 flushes into
/// redb. The clock stops at the last acknowledgement, with up to one flush's worth
/// of keys still to flush; a long run keeps that share small (at 400 a writer it was
/// a sixth of the flush work, and grouped commits looked ~20 % faster).
const PER_WRITER: usize = 2000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let grouped = RedbOptions::default();
        let ungrouped = RedbOptions { group_commits: false, ..RedbOptions::default() };
        println!("record size: {} bytes", session_record().len());
        let single = measure(ungrouped, 1, 300).await?;
        println!("1 writer                 {single:>10.0} commits/s");
        let (mut without, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=ROUNDS {
            // The same commits both ways, enough that each run flushes into redb
            // several times: both pay for the same flushes.
            let many_ungrouped = measure(ungrouped, 64, PER_WRITER).await?;
            let many_grouped = measure(grouped, 64, PER_WRITER).await?;
            println!(
                "round {round}: 64 writers ungrouped {many_ungrouped:>8.0}/s, grouped {many_grouped:>8.0}/s, \
                 ratio {:.1}x",
                many_grouped / many_ungrouped
            );
            without.push(many_ungrouped);
            with.push(many_grouped);
            ratios.push(many_grouped / many_ungrouped);
        }
        println!("64 writers, ungrouped    {:>10.0} commits/s (median)", median(without));
        println!("64 writers, grouped      {:>10.0} commits/s (median)", median(with));
        println!("ratio grouped/ungrouped (64 writers): {:.1}x median (target >= 10x)", median(ratios));
        Ok(())
    })
}
