//! The least a proxy can do, as a baseline: hyper's server and the engine's own
//! upstream client (`securix_engine::upstream`) on one current-thread runtime pinned
//! to CPU 1 (where SecuriX and nginx run), relaying each request with one header
//! added. No identity, no token, no audit: what is left of SecuriX's time above it
//! is SecuriX's own work.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use securix_engine::proxy::ProxyBody;
use securix_engine::upstream::Upstream;

use super::Error;

/// Starts the relay in a thread of its own; answers its address.
pub fn start(upstream: &str) -> Result<String, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?.to_string();
    let base = format!("http://{upstream}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("bench-relay".into()).spawn(move || {
        let mut cpu1 = rustix::thread::CpuSet::new();
        cpu1.set(1);
        let _ = rustix::thread::sched_setaffinity(None, &cpu1);
        runtime.block_on(serve(listener, base))
    })?;
    Ok(address)
}

async fn serve(listener: std::net::TcpListener, base: String) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let client = Upstream::new(Duration::from_secs(30))?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            let relay =
                hyper::service::service_fn(move |request| relay(client.clone(), base.clone(), request));
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), relay).await
        });
    }
}

async fn relay(
    client: Upstream,
    base: String,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    let url = format!("{base}{}", parts.uri.path_and_query().map_or("/", |path| path.as_str()));
    let failed = || Response::builder().status(502).body(Full::default()).unwrap_or_default();
    let Ok(uri) = url.parse() else { return Ok(failed()) };
    parts.headers.remove(hyper::header::HOST);
    parts
        .headers
        .insert(hyper::header::AUTHORIZATION, hyper::header::HeaderValue::from_static("Bearer relay"));
    let Ok(answer) = client.send(parts.method, uri, parts.headers, ProxyBody::from(body)).await else {
        return Ok(failed());
    };
    let mut chunks = answer.body;
    let mut whole = Vec::with_capacity(answer.length.unwrap_or(0) as usize);
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(chunk) => whole.extend_from_slice(&chunk),
            Err(_) => return Ok(failed()),
        }
    }
    let mut response = Response::new(Full::new(Bytes::from(whole)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(answer.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = answer.headers;
    Ok(response)
}
