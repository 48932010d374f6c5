//! The outbound HTTP client (`http_client::HttpClient`) against a bare hyper HTTP/1
//! connection (what it used to drive, through hyper's connection task), on one
//! thread: the same 1 KB POST to a local keep-alive server, answered with 1 KB, one
//! call after another. Prints µs per call of each and the ratio.
//!
//! Wall time on a shared host drifts by tens of percent; for changes of a few
//! percent, count instructions instead, one side at a time (the server's share is
//! the same on both sides), e.g.:
//! `MODE=client N=6000 valgrind --tool=callgrind target/release/deps/upstream_client-…`
//! minus the same with `N=1000`, divided by 5000.
//!
//! `cargo bench -p securix-engine --bench upstream_client`

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use securix_engine::http_client::HttpClient;
use securix_engine::proxy::ProxyBody;

#[path = "support/keepalive.rs"]
mod keepalive;

type Error = Box<dyn std::error::Error + Send + Sync>;

const ANSWER_LEN: usize = 1000;

fn main() -> Result<(), Error> {
    let calls: usize = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let mode = std::env::var("MODE").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let base = keepalive::serve(|_| "x".repeat(ANSWER_LEN)).await?;
        let body = Bytes::from(vec![b'x'; 1024]);
        let (mut upstream, mut bare) = (None, None);
        if mode != "bare" {
            upstream = Some(through_upstream(&base, &body, calls).await?);
        }
        if mode != "client" {
            bare = Some(through_bare_connection(&base, &body, calls).await?);
        }
        for (name, per_call) in [("http_client::HttpClient", upstream), ("bare hyper connection", bare)] {
            if let Some(per_call) = per_call {
                println!("{name:<22} {:>7.2} µs a call ({calls} calls)", per_call.as_secs_f64() * 1e6);
            }
        }
        if let (Some(upstream), Some(bare)) = (upstream, bare) {
            println!("ratio HttpClient / bare: {:.2}×", upstream.as_secs_f64() / bare.as_secs_f64());
        }
        Ok(())
    })
}

async fn through_upstream(base: &str, body: &Bytes, calls: usize) -> Result<Duration, Error> {
    let client = HttpClient::new(securix_engine::policy::OutboundPolicy::danger_loopback())?;
    let started = Instant::now();
    for _ in 0..calls {
        let mut headers = hyper::header::HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse()?);
        let uri = format!("{base}/api/x").parse()?;
        let answer = client
            .send(hyper::Method::POST, uri, headers, ProxyBody::from(body.clone()), Duration::from_secs(30))
            .await?;
        let mut chunks = answer.body;
        let mut read = 0;
        while let Some(chunk) = chunks.next().await {
            read += chunk?.len();
        }
        check(read)?;
    }
    Ok(started.elapsed() / calls as u32)
}

async fn through_bare_connection(base: &str, body: &Bytes, calls: usize) -> Result<Duration, Error> {
    let address = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let started = Instant::now();
    for _ in 0..calls {
        let request = hyper::Request::post("/api/x")
            .header("host", address)
            .header("authorization", "Bearer t")
            .body(Full::new(body.clone()))?;
        sender.ready().await?;
        let answer = sender.send_request(request).await?;
        check(answer.into_body().collect().await?.to_bytes().len())?;
    }
    Ok(started.elapsed() / calls as u32)
}

fn check(read: usize) -> Result<(), Error> {
    if read == ANSWER_LEN { Ok(()) } else { Err(format!("read {read} bytes, not {ANSWER_LEN}").into()) }
}
