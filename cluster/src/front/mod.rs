//! The HTTP front: actix-web end to end. actix-server accepts (one worker per
//! CPU, each with its own instance of the app), actix-http reads and writes the
//! connections with its own limits and timeouts, and what they lack is middleware
//! here, one file each: each request's id, span and count (`observe`), and a bound
//! on each wait for more of a request's body (`body_stall`). A client that stops
//! reading its answers loses its connection (`send_timeout`).

pub mod body_stall;
pub mod observe;
mod send_timeout;
mod stall;

use std::time::Duration;

use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::web;
use send_timeout::SendTimeout;

use crate::server::{AppState, app};

/// The most connections one worker holds open at once (actix's default).
const MAX_CONNECTIONS_PER_WORKER: usize = 25_000;
/// How long a client may take to send a request's head (actix answers 408 past it;
/// the head itself is capped at 32 KiB by actix-http).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an idle keep-alive connection stays open.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// How long requests in flight may take to finish once the server is stopping.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long a body nobody wanted is still read away after its answer (a request
/// refused before its upload was read), before the connection is closed: closed
/// with unread bytes, the kernel resets it and the client may lose the answer
/// (nginx's lingering close).
const LINGER: Duration = Duration::from_secs(5);

/// Serves `listener` until SIGTERM or SIGINT, then lets requests in flight finish.
pub async fn serve(listener: std::net::TcpListener, state: web::Data<AppState>) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server = actix_server::Server::build();
    // Told when the server stops: idle keep-alive connections close at once.
    let stopping = server.graceful_shutdown_signal();
    server
        .workers(workers)
        .max_concurrent_connections(MAX_CONNECTIONS_PER_WORKER)
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .listen("securix", listener, move || {
            let stopping = stopping.clone();
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .client_request_timeout(HEAD_TIMEOUT)
                .client_disconnect_timeout(LINGER)
                .keep_alive(KEEP_ALIVE)
                .local_addr(address)
                .h1(map_config(app().app_data(state.clone()).into_factory(), move |()| AppConfig::default()));
            fn_service(|stream: tokio::net::TcpStream| {
                let peer = stream.peer_addr().ok();
                let _ = stream.set_nodelay(true);
                std::future::ready(Ok::<_, actix_http::error::DispatchError>((
                    SendTimeout::new(stream),
                    peer,
                )))
            })
            .and_then(http)
        })?
        .run()
        .await?;
    Ok(())
}
