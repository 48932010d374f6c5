//! The least a proxy can do, as baselines: the engine's own outbound client
//! (`securix_engine::http_client`) relaying each request with one header added,
//! served on CPU 1 (where SecuriX and nginx run) by hyper's bare server or by
//! actix-web (which serves SecuriX's connections: `cluster/src/front`), each on
//! one current-thread runtime. No identity, no token, no
//! audit: what is left of SecuriX's time above the hyper relay is SecuriX's own
//! work, and the gap between the two relays is the HTTP servers'.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use securix_engine::http_client::HttpClient;
use securix_engine::proxy::ProxyBody;

use super::{Error, pin_thread_to_cpu1};

/// Starts the hyper relay in a thread of its own; answers its address.
pub fn start_hyper(upstream: &str) -> Result<String, Error> {
    let (listener, address) = listen()?;
    let base = format!("http://{upstream}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("bench-relay".into()).spawn(move || {
        pin_thread_to_cpu1();
        runtime.block_on(serve_hyper(listener, base))
    })?;
    Ok(address)
}

/// Starts the actix-web relay (one worker) in a thread of its own; answers its address.
pub fn start_actix(upstream: &str) -> Result<String, Error> {
    let (listener, address) = listen()?;
    let base = format!("http://{upstream}");
    let client = HttpClient::new(securix_engine::policy::OutboundPolicy::danger_loopback())?;
    std::thread::Builder::new().name("bench-actix-relay".into()).spawn(move || {
        // Its worker threads start from this one, so they run on CPU 1 too.
        pin_thread_to_cpu1();
        let server = actix_web::HttpServer::new(move || {
            let (client, base) = (client.clone(), base.clone());
            actix_web::App::new().default_service(actix_web::web::to(
                move |request: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                    relay_actix(client.clone(), base.clone(), request, body)
                },
            ))
        })
        .workers(1)
        .disable_signals();
        actix_web::rt::System::new().block_on(async move { server.listen(listener)?.run().await })
    })?;
    Ok(address)
}

fn listen() -> Result<(std::net::TcpListener, String), Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?.to_string();
    Ok((listener, address))
}

async fn serve_hyper(listener: std::net::TcpListener, base: String) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let client = HttpClient::new(securix_engine::policy::OutboundPolicy::danger_loopback())?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            let relay =
                hyper::service::service_fn(move |request| relay_hyper(client.clone(), base.clone(), request));
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), relay).await
        });
    }
}

async fn relay_hyper(
    client: HttpClient,
    base: String,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let (status, headers, body) =
        forward(&client, &base, parts.method, path, parts.headers, body).await.unwrap_or_else(failed);
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// actix's header types are another `http` version's, so they are converted both
/// ways (as SecuriX's proxy route does).
async fn relay_actix(
    client: HttpClient,
    base: String,
    request: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    let mut headers = HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let name = HeaderName::from_bytes(name.as_str().as_bytes());
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(value.as_bytes())) {
            headers.append(name, value);
        }
    }
    let method = Method::from_bytes(request.method().as_str().as_bytes()).unwrap_or(Method::GET);
    let path = request.uri().path_and_query().map_or("/", |path| path.as_str());
    let (status, headers, body) =
        forward(&client, &base, method, path, headers, body).await.unwrap_or_else(failed);
    let status = actix_web::http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut response = actix_web::HttpResponse::build(status);
    for (name, value) in &headers {
        response.append_header((name.as_str(), value.as_bytes()));
    }
    response.body(body)
}

/// One call relayed upstream with an `authorization` header added: the answer's
/// status, headers and whole body, or why it failed.
async fn forward(
    client: &HttpClient,
    base: &str,
    method: Method,
    path: &str,
    mut headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), Error> {
    headers.remove(HOST);
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer relay"));
    let answer = client
        .send(
            method,
            format!("{base}{path}").parse()?,
            headers,
            ProxyBody::from(body),
            Duration::from_secs(30),
        )
        .await?;
    let mut chunks = answer.body;
    let mut whole = Vec::with_capacity(answer.length.unwrap_or(0) as usize);
    while let Some(chunk) = chunks.next().await {
        whole.extend_from_slice(&chunk?);
    }
    Ok((StatusCode::from_u16(answer.status)?, answer.headers, Bytes::from(whole)))
}

fn failed(_: Error) -> (StatusCode, HeaderMap, Bytes) {
    (StatusCode::BAD_GATEWAY, HeaderMap::new(), Bytes::new())
}
