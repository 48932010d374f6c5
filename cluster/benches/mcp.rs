//! What the MCP server's `request` tool adds over a direct proxy call, measured in
//! the same run: p50 and p99 of a 1 KB POST echoed by the upstream, straight to the
//! upstream (baseline), through `/v1/proxy/…`, and as an MCP `tools/call` of
//! `request` on `/v1/mcp` (JSON-RPC in, the answer read whole and parsed). Each over
//! its own keep-alive connection; they take turns call by call, so a slow spell of
//! the host touches all three.
//!
//! `cargo build --release -p securix-cluster && cargo bench -p securix-cluster --bench mcp`
//! (`SECURIX_BIN` picks another build).

use std::time::Instant;

use bytes::Bytes;

mod support;

use support::{Error, LATENCY_SAMPLES, Target, WARMUP, call, connect, p50_p99, provision, start_securix};

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(bench())
}

async fn bench() -> Result<(), Error> {
    let upstream = support::upstream().await?;
    let dir = tempfile::tempdir()?;
    let (securix_url, _securix) = start_securix(dir.path(), &[], false).await?;
    let api_key = provision(&securix_url, &upstream).await?;
    let identity = vec![
        ("securix-api-key", api_key.clone()),
        ("securix-agent-id", "agent".to_owned()),
        ("securix-entity-id", "e1".to_owned()),
    ];
    let payload = "x".repeat(1024);
    let sx = securix_url.trim_start_matches("http://").to_owned();
    let direct = Target {
        address: upstream.trim_start_matches("http://").to_owned(),
        path: "/api/echo".into(),
        headers: vec![],
    };
    let proxied = Target { address: sx.clone(), path: "/v1/proxy/up/echo".into(), headers: identity.clone() };
    let mut mcp_headers = identity;
    mcp_headers.push(("content-type", "application/json".to_owned()));
    let mcp = Target { address: sx, path: "/v1/mcp".into(), headers: mcp_headers };
    let tool_call = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "request", "arguments": {"integration": "up", "method": "POST", "path": "/echo", "body": payload}},
    });
    let runs = [
        ("upstream, direct (baseline)", &direct, Bytes::from(payload.clone())),
        ("through /v1/proxy", &proxied, Bytes::from(payload.clone())),
        ("MCP request tool", &mcp, Bytes::from(tool_call.to_string())),
    ];
    let mut senders = Vec::new();
    for (_, target, _) in &runs {
        senders.push(connect(target).await?);
    }
    let mut samples = vec![Vec::with_capacity(LATENCY_SAMPLES); runs.len()];
    for round in 0..WARMUP + LATENCY_SAMPLES {
        for (((_, target, body), sender), samples) in runs.iter().zip(&mut senders).zip(&mut samples) {
            let started = Instant::now();
            call(sender, target, body).await?;
            if round >= WARMUP {
                samples.push(started.elapsed());
            }
        }
    }
    let figures: Vec<(f64, f64)> = samples.into_iter().map(p50_p99).collect();
    println!("{LATENCY_SAMPLES} calls each, 1 KB POST echoed, keep-alive, taking turns:");
    for ((name, _, _), (p50, p99)) in runs.iter().zip(&figures) {
        println!("  {name:<28} p50 {p50:>7.0} µs   p99 {p99:>7.0} µs");
    }
    let ((proxy50, proxy99), (mcp50, mcp99)) = (figures[1], figures[2]);
    println!(
        "MCP request over the proxy: +{:.0} µs p50 ({:.2}×), +{:.0} µs p99 ({:.2}×)",
        mcp50 - proxy50,
        mcp50 / proxy50,
        mcp99 - proxy99,
        mcp99 / proxy99
    );
    Ok(())
}
