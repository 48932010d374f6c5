//! The HTTP front: hyper reads and writes the connections; the proxy route, the
//! hottest by far, is served here directly, and every other request goes to
//! actix-web's `App` (routes, extractors, error mapping). hyper's HTTP/1 handling
//! costs a call less CPU than actix-http's (see `benches/http.rs`: the two relays),
//! and a proxied call is spared converting its head to actix's `http` types and back.
//! Every request gets an id (`x-request-id`), a tracing span and its count in the
//! metrics here.
//!
//! One worker thread per CPU, each a current-thread runtime with its own instance
//! of the app (actix's model), all accepting from the one listening socket.

mod bridge;
mod request_body;
mod response_body;
mod send_timeout;
mod stall;

use bridge::AppService;
pub use bridge::problem;
pub use request_body::{BodyError, RequestBody};
pub use response_body::ResponseBody;
use send_timeout::SendTimeout;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_service::IntoServiceFactory;
use actix_web::dev::{AppConfig, ServiceFactory};
use actix_web::web;
use anyhow::Context;
use hyper::body::Incoming;
use hyper::header::HeaderName;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{Semaphore, mpsc, watch};
use tracing::Instrument;

use crate::api::proxy;
use crate::server::{AppState, app};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The most connections one worker holds open at once (actix's default).
const MAX_CONNECTIONS_PER_WORKER: usize = 25_000;
/// The most a request's head (request line and headers) may weigh.
const MAX_HEAD: usize = 32 << 10;
/// How long a client may take to send a request's head, and how long an idle
/// keep-alive connection stays open.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight may take to finish once the server is stopping.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `listener` until SIGTERM or SIGINT, then lets requests in flight finish.
/// A worker that fails (its app cannot start) stops the others and the server.
pub async fn serve(listener: std::net::TcpListener, state: web::Data<AppState>) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let (stop, stopping) = watch::channel(false);
    // Each worker reports how it ended, a panic included.
    let (ended, mut endings) = mpsc::unbounded_channel::<anyhow::Result<()>>();
    let count = std::thread::available_parallelism().map_or(1, |n| n.get());
    for index in 0..count {
        let (listener, state, stopping, ended) =
            (listener.try_clone()?, state.clone(), stopping.clone(), ended.clone());
        std::thread::Builder::new()
            .name(format!("securix-http-{index}"))
            .spawn(move || {
                let run = || actix_web::rt::System::new().block_on(worker(listener, state, stopping));
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("an HTTP worker panicked")));
                let _ = ended.send(outcome);
            })
            .context("cannot start an HTTP worker")?;
    }
    drop((listener, ended));
    let mut outcome = tokio::select! {
        stopped = stop_signal() => stopped,
        // No worker ends on its own but by failing.
        Some(early) = endings.recv() => early.and(Err(anyhow::anyhow!("an HTTP worker stopped"))),
    };
    tracing::info!("stopping: requests in flight may finish");
    let _ = stop.send(true);
    while let Some(ending) = endings.recv().await {
        outcome = outcome.and(ending);
    }
    outcome
}

/// SIGTERM or SIGINT.
async fn stop_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        interrupted = tokio::signal::ctrl_c() => interrupted?,
    }
    Ok(())
}

/// One worker: accepts connections until told to stop, then waits for the ones
/// it serves to finish their requests (at most `SHUTDOWN_GRACE`).
async fn worker(
    listener: std::net::TcpListener,
    state: web::Data<AppState>,
    mut stopping: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let app = app(state.clone())
        .into_factory()
        .new_service(AppConfig::default())
        .await
        .map_err(|()| anyhow::anyhow!("the app did not start"))?;
    let served = Rc::new(Served { state, app: bridge::boxed(app) });
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS_PER_WORKER));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEAD_TIMEOUT).max_header_size(MAX_HEAD);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot?,
            _ = stopping.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopping.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let served = served.clone();
        let service = hyper::service::service_fn(move |request| {
            let served = served.clone();
            async move { Ok::<_, Infallible>(served.handle(request, peer).await) }
        });
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(SendTimeout::new(stream)), service));
        tokio::task::spawn_local(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?} were cut off");
    }
    Ok(())
}

/// What a worker's connections share: the server's state and this worker's app.
struct Served {
    state: web::Data<AppState>,
    app: AppService,
}

impl Served {
    /// One request: to the proxy or the app, counted and answered with its id.
    async fn handle(
        &self,
        request: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> hyper::Response<ResponseBody> {
        let request_id = request_id();
        let span = tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %String::from_utf8_lossy(&request_id));
        let mut answer = if request.uri().path().starts_with(proxy::PREFIX) {
            proxy::forward(&self.state, request).instrument(span).await
        } else {
            bridge::call(&self.app, request, peer).instrument(span).await
        };
        self.state.metrics.count(answer.status().as_u16());
        if let Ok(value) = hyper::header::HeaderValue::from_bytes(&request_id) {
            answer.headers_mut().insert(REQUEST_ID, value);
        }
        answer
    }
}

/// A request id: 16 hex digits from the thread's RNG (not a secret, so no syscall),
/// spelled out by hand: `format!` costs several times as much.
fn request_id() -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let random = rand::random::<u64>();
    std::array::from_fn(|at| HEX[(random >> (60 - 4 * at)) as usize & 0xf])
}

#[cfg(test)]
mod tests {
    use super::request_id;

    #[test]
    fn a_request_id_is_sixteen_hex_digits_drawn_afresh() {
        let ids: Vec<[u8; 16]> = (0..64).map(|_| request_id()).collect();
        for id in &ids {
            assert!(id.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)), "{id:?}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Every digit position takes more than one value: no fixed padding.
        for at in 0..16 {
            assert!(ids.iter().any(|id| id[at] != ids[0][at]), "digit {at}");
        }
    }
}
