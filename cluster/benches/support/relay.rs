//! The least a proxy can do, as a baseline: hyper's server and pooled client on one
//! current-thread runtime pinned to CPU 1 (where SecuriX and nginx run), relaying each
//! request to the upstream with one header added. No identity, no token, no audit:
//! its throughput is the ceiling of a Rust proxy on this machine.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::Error;

/// Starts the relay in a thread of its own; answers its address.
pub fn start(upstream: &str) -> Result<String, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?.to_string();
    let upstream = upstream.to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("bench-relay".into()).spawn(move || {
        let mut cpu1 = rustix::thread::CpuSet::new();
        cpu1.set(1);
        let _ = rustix::thread::sched_setaffinity(None, &cpu1);
        runtime.block_on(serve(listener, upstream))
    })?;
    Ok(address)
}

async fn serve(listener: std::net::TcpListener, upstream: String) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            let relay =
                hyper::service::service_fn(move |request| relay(client.clone(), upstream.clone(), request));
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), relay).await
        });
    }
}

async fn relay(
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    parts.uri = format!("http://{upstream}{path}").parse().unwrap_or_default();
    parts.headers.remove(hyper::header::HOST);
    parts
        .headers
        .insert(hyper::header::AUTHORIZATION, hyper::header::HeaderValue::from_static("Bearer relay"));
    let answer = match client.request(Request::from_parts(parts, Full::new(body))).await {
        Ok(answer) => answer,
        Err(_) => return Ok(Response::builder().status(502).body(Full::default()).unwrap_or_default()),
    };
    let (parts, body) = answer.into_parts();
    let body = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    Ok(Response::from_parts(parts, Full::new(body)))
}
