//! The background refresher at scale: `N` (default 100,000) OAuth connections over
//! 16 integrations come due at once on a redb store, and one node's refresher
//! renews them all against a local token endpoint, round after round, as the
//! server's sweeper runs it. Prints renewals per second, store commits and keys
//! written per renewal, and the ratio to a baseline measured in the same run: bare
//! refresh POSTs to the same endpoint with the engine's HTTP client, as many at
//! once as the refresher runs.
//!
//! `cargo bench -p securix-engine --bench refresher` (`N=20000` for a quick look)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use securix_engine::http_client::{HttpClient, ProxyBody};
use securix_engine::model::integration::IntegrationDraft;
use securix_engine::plugins::{FetchPolicy, PluginHost, PluginHostOptions};
use securix_engine::store::{
    Backend, Commit, KeyRange, KeyValue, RedbBackend, RedbOptions, Snapshot, Store, StoreError,
};
use securix_engine::util::clock::{Clock, ManualClock, SystemClock};
use securix_engine::util::secret::SecretString;
use securix_engine::vault::MasterKey;
use securix_engine::{Engine, EngineSettings};

#[path = "support/keepalive.rs"]
mod keepalive;
#[path = "support/seed.rs"]
mod seed;

/// The server's allocator (see `cluster/src/main.rs`), so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 100_000;
const INTEGRATIONS: usize = 16;
/// Renewals the refresher runs at once on a node (`tokens::RENEWALS_AT_ONCE`).
const AT_ONCE: usize = 64;
const TOKEN_ANSWER: &str = r#"{"access_token":"bench-at-renewed","refresh_token":"bench-rt","expires_in":3600,"token_type":"Bearer"}"#;

/// Counts the commits that wrote, the keys they wrote, and the commits refused
/// for a conflict (tried again by `Store::run`).
#[derive(Clone, Default)]
struct Counters {
    commits: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
    conflicts: Arc<AtomicUsize>,
}

impl Counters {
    fn read(&self) -> [usize; 3] {
        [&self.commits, &self.writes, &self.conflicts].map(|c| c.load(Ordering::SeqCst))
    }
}

struct Counting {
    inner: RedbBackend,
    counters: Counters,
}

struct CountingSnapshot {
    inner: Box<dyn Snapshot>,
    counters: Counters,
}

impl std::ops::Deref for CountingSnapshot {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        &self.counters
    }
}

#[async_trait]
impl Backend for Counting {
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        let inner = self.inner.begin().await?;
        Ok(Box::new(CountingSnapshot { inner, counters: self.counters.clone() }))
    }

    fn name(&self) -> &'static str {
        "counting redb"
    }

    fn version(&self) -> Option<u64> {
        self.inner.version()
    }
}

#[async_trait]
impl Snapshot for CountingSnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key).await
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.inner.get_range(range, limit, reverse).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let keys = commit.mutations.len();
        let committed = self.inner.commit(commit).await;
        match &committed {
            Ok(()) if keys > 0 => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                self.writes.fetch_add(keys, Ordering::Relaxed);
            }
            Err(StoreError::Conflict) => {
                self.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        committed
    }

    fn version(&self) -> Option<u64> {
        self.inner.version()
    }
}

/// `count` refresh POSTs to `token_url`, `AT_ONCE` at a time: per second.
async fn bare_refreshes(token_url: &str, count: usize) -> Result<f64, Box<dyn std::error::Error>> {
    use futures_util::StreamExt;
    let client = HttpClient::new(securix_engine::policy::OutboundPolicy::danger_loopback())?;
    let uri: hyper::Uri = token_url.parse()?;
    let form =
        "grant_type=refresh_token&refresh_token=bench-rt&client_id=c&client_secret=bench-client-secret";
    let started = Instant::now();
    let answered = futures_util::stream::iter(0..count)
        .map(|_| {
            let (client, uri) = (&client, uri.clone());
            async move {
                let mut headers = hyper::header::HeaderMap::new();
                headers.insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                let body = ProxyBody::Bytes(bytes::Bytes::from_static(form.as_bytes()));
                let answer = client
                    .send(hyper::Method::POST, uri, headers, body, Duration::from_secs(30))
                    .await
                    .ok()?;
                let mut stream = answer.body;
                let mut read = Vec::new();
                while let Some(chunk) = stream.next().await {
                    read.extend_from_slice(&chunk.ok()?);
                }
                serde_json::from_slice::<serde_json::Value>(&read).ok()
            }
        })
        .buffer_unordered(AT_ONCE)
        .filter(|answer| std::future::ready(answer.is_some()))
        .count()
        .await;
    assert_eq!(answered, count, "every bare refresh was answered");
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(CONNECTIONS);
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let base = keepalive::serve(|path| match path {
            "/token" => TOKEN_ANSWER.to_owned(),
            _ => r#"{"sub":"bench-account"}"#.to_owned(),
        })
        .await?;
        let counters = Counters::default();
        let backend = Counting {
            inner: RedbBackend::open(&dir.path().join("bench.redb"), RedbOptions::default())?,
            counters: counters.clone(),
        };
        let plugins = PluginHost::new(PluginHostOptions {
            fetch: FetchPolicy { allow_loopback_http: true, ..FetchPolicy::default() },
            ..PluginHostOptions::default()
        })?;
        let (_, wasm) =
            securix_plugins::FIRST_PARTY.iter().find(|(id, _)| *id == "oauth2").ok_or("no oauth2 plugin")?;
        plugins.load(wasm).await?;
        let clock = ManualClock::new(SystemClock.now());
        let settings = EngineSettings {
            allow_loopback_http: true,
            // The rounds are run here, one after another, not by the sweeper's timer.
            sweep_every: Duration::from_secs(24 * 3600),
            ..EngineSettings::default()
        };
        let engine = Engine::builder()
            .store(Store::new(backend))
            .master_key(MasterKey::generate())
            .plugins(Arc::new(plugins))
            .clock(Arc::new(clock.clone()))
            .settings(settings)
            .build()
            .await?;
        let project = engine.create_project("Bench").await?;
        for i in 0..INTEGRATIONS {
            let config = serde_json::json!({
                "authorizationEndpoint": format!("{base}/authorize"), "tokenEndpoint": format!("{base}/token"),
                "userinfoEndpoint": format!("{base}/userinfo"), "apiBaseUrl": format!("{base}/api"),
            });
            let draft = IntegrationDraft {
                key: format!("up{i}"),
                provider: "oauth2".into(),
                client_id: "c".into(),
                client_secret: SecretString::new("bench-client-secret"),
                scopes: vec![],
                config,
            };
            engine.put_integration(&project.id, draft).await?;
        }

        let seeding = Instant::now();
        let expires_at = clock.now().plus_secs(3600);
        seed::connections(&engine, &project.id, n, INTEGRATIONS, clock.now(), expires_at).await?;
        println!("seeded {n} connections in {:.1} s", seeding.elapsed().as_secs_f64());

        let baseline = bare_refreshes(&format!("{base}/token"), n.min(20_000)).await?;
        clock.advance_millis(3_600_000);
        let before = counters.read();
        let started = Instant::now();
        let (mut renewed, mut rounds) = (0, 0);
        while renewed < n {
            let round = engine.renew_due_connections().await?;
            rounds += 1;
            if round == 0 {
                return Err(format!("a round renewed nothing with {} of {n} renewed", renewed).into());
            }
            renewed += round;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let rate = n as f64 / elapsed;
        let per_renewal = |i: usize| (counters.read()[i] - before[i]) as f64 / n as f64;
        println!("renewed {n} due connections in {elapsed:.1} s over {rounds} rounds: {rate:.0} renewals/s");
        println!(
            "store per renewal: {:.2} commits, {:.2} keys written, {:.2} commits refused for a conflict",
            per_renewal(0),
            per_renewal(1),
            per_renewal(2)
        );
        println!(
            "bare refresh POSTs, {AT_ONCE} at once: {baseline:.0}/s; refresher / bare: {:.2}",
            rate / baseline
        );
        engine.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
