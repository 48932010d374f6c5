//! The cluster on this machine: proxy calls and device-session creations per second
//! with one node and with three nodes sharing one PostgreSQL, the load spread evenly
//! over the nodes, each run on a fresh database.
//!
//! All of it shares this machine's cores (PostgreSQL, the nodes, the upstream and
//! the load generator), so three nodes do not bring three machines' CPU: the ratio
//! shows what coordinating through the store costs, not scale-out. Run with
//! `scripts/bench-cluster`, or `SECURIX_BIN=… cargo bench -p securix-cluster --bench nodes`.

use bytes::Bytes;

#[path = "../../engine/tests/engine/support/postgres.rs"]
mod postgres;
mod support;

use support::{Error, Target, free_port, load_seconds, provision, start_securix, throughput};

const MASTER_KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
const PROXY_CONNECTIONS: usize = 64;
const SESSION_CONNECTIONS: usize = 16;
/// Seconds each figure is measured over.
const RUN_SECONDS: u64 = 5;

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(bench())
}

async fn bench() -> Result<(), Error> {
    let upstream = support::upstream().await?;
    let seconds = load_seconds(RUN_SECONDS);
    println!(
        "== {seconds} s per run; {PROXY_CONNECTIONS} connections for proxy calls, {SESSION_CONNECTIONS} for sessions"
    );
    let mut figures = Vec::new();
    for nodes in [1, 3] {
        let (proxy, sessions) = run(nodes, &upstream, seconds).await?;
        println!("{nodes} node(s) on PostgreSQL: {proxy:>8.0} proxy calls/s   {sessions:>7.0} sessions/s");
        figures.push((proxy, sessions));
    }
    let (one, three) = (figures[0], figures[1]);
    println!(
        "3 nodes / 1 node:           {:>8.2}×                {:>7.2}×",
        three.0 / one.0,
        three.1 / one.1
    );
    Ok(())
}

/// Proxy calls and session creations per second on `nodes` nodes, each measured for `seconds`.
async fn run(nodes: usize, upstream: &str, seconds: u64) -> Result<(f64, f64), Error> {
    let pg = postgres::Postgres::start();
    let dir = tempfile::tempdir()?;
    let mut running = Vec::new();
    for i in 0..nodes {
        let id = format!("n{i}");
        // Configured as API.md says a cluster is: nodes meet over the mesh.
        let mesh = format!("127.0.0.1:{}", free_port()?);
        let env = [
            ("SECURIX_STORE", pg.url.as_str()),
            ("SECURIX_NODE_ID", &id),
            ("SECURIX_MASTER_KEY", MASTER_KEY),
            ("SECURIX_CLUSTER_LISTEN", &mesh),
            ("SECURIX_CLUSTER_COOKIE", "bench-cluster-cookie-0123456789"),
        ];
        running.push(start_securix(&dir.path().join(&id), &env, false).await?);
    }
    let api_key = provision(&running[0].0, upstream).await?;
    // The same call on every node.
    let on_every_node = |path: &str, last_header: (&'static str, &str)| -> Vec<Target> {
        let headers = vec![
            ("securix-api-key", api_key.clone()),
            ("securix-agent-id", "agent".to_owned()),
            (last_header.0, last_header.1.to_owned()),
        ];
        let address = |url: &str| url.trim_start_matches("http://").to_owned();
        running
            .iter()
            .map(|(url, _)| Target { address: address(url), path: path.into(), headers: headers.clone() })
            .collect()
    };
    let proxied = on_every_node("/v1/proxy/up/echo", ("securix-entity-id", "e1"));
    let sessions = on_every_node("/v1/sessions", ("content-type", "application/json"));
    let body = Bytes::from(vec![b'x'; 1024]);
    let proxy = throughput(seconds, &proxied, &body, PROXY_CONNECTIONS).await?;
    let create = Bytes::from_static(br#"{"entityId":"e2","flow":"device","providers":{"up":{}}}"#);
    let per_second = throughput(seconds, &sessions, &create, SESSION_CONNECTIONS).await?;
    Ok((proxy, per_second))
}
