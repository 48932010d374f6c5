//! Kept-alive connections, per origin: hyper's HTTP/1 connections (hyper frames
//! every message) over the one connector, each taken by one call and given back
//! once its answer's body has been read to its end, by the body itself
//! (`body::answer_body`). hyper-util's pooled client did the same at the cost of a
//! task spawned per call to watch for the connection's return, which kept
//! SecuriX under 0.75× nginx's throughput (`scripts/bench-http`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HOST, HeaderValue};
use hyper::http::uri::{Authority, Scheme};
use hyper::{Request, Response, Uri};
use tokio::time::Instant;
use tower_service::Service;

use super::body::ProxyBody;
use super::connector::Connector;
use super::error::HttpError;

/// Idle connections kept per origin; more are closed when given back.
const MAX_IDLE_PER_ORIGIN: usize = 256;
/// An idle connection older than this is closed rather than reused (servers close
/// theirs after a minute or two; reusing one they just closed fails the call).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The most an answer's head may weigh (hyper also caps it at 100 headers).
const MAX_ANSWER_HEAD: usize = 64 << 10;

type Origin = (Scheme, Authority);
type Idle = Arc<Mutex<HashMap<Origin, Vec<(SendRequest<ProxyBody>, Instant)>>>>;

#[derive(Clone)]
pub(super) struct Pool {
    connector: Connector,
    idle: Idle,
}

/// A connection taken for one call.
pub(super) struct Lease {
    sender: SendRequest<ProxyBody>,
    origin: Origin,
    idle: Idle,
}

impl Pool {
    pub fn new(connector: Connector) -> Self {
        Pool { connector, idle: Arc::default() }
    }

    /// Sends `request` (its URI absolute) on an idle connection to its origin, or
    /// a new one. An idle connection the provider closed meanwhile takes nothing
    /// of the request, which goes on the next one.
    pub async fn send(
        &self,
        mut request: Request<ProxyBody>,
    ) -> Result<(Response<Incoming>, Lease), HttpError> {
        let parts = request.uri().clone().into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(HttpError::Malformed("the URL is not absolute"));
        };
        let host = host_header(&scheme, &authority).ok_or(HttpError::Malformed("the URL's host"))?;
        request.headers_mut().entry(HOST).or_insert(host);
        // HTTP/1.1 sends a request's target in origin form: its path and query.
        *request.uri_mut() = parts.path_and_query.map_or_else(|| Uri::from_static("/"), Uri::from);
        let origin = (scheme, authority);
        loop {
            let (mut sender, reused) = match self.take_idle(&origin).await {
                Some(sender) => (sender, true),
                None => (self.connect(&origin).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(answer) => {
                    let lease = Lease { sender, origin, idle: self.idle.clone() };
                    return Ok((answer, lease));
                }
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(HttpError::BrokenOff(failed.into_error().into())),
                },
            }
        }
    }

    /// The newest idle connection to `origin` that is still open and fresh.
    async fn take_idle(&self, origin: &Origin) -> Option<SendRequest<ProxyBody>> {
        loop {
            let (mut sender, since) = {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                idle.get_mut(origin)?.pop()?
            };
            if since.elapsed() >= IDLE_TIMEOUT || sender.is_closed() {
                continue;
            }
            // Given back as its answer's last byte was read: ready at once, or
            // as soon as its connection has seen that byte too.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self, (scheme, authority): &Origin) -> Result<SendRequest<ProxyBody>, HttpError> {
        let mut parts = hyper::http::uri::Parts::default();
        parts.scheme = Some(scheme.clone());
        parts.authority = Some(authority.clone());
        parts.path_and_query = Some(hyper::http::uri::PathAndQuery::from_static("/"));
        let origin = Uri::from_parts(parts).map_err(|_| HttpError::Malformed("the URL"))?;
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx)).await.map_err(HttpError::of_connect)?;
        let stream = connector.call(origin).await.map_err(HttpError::of_connect)?;
        let (sender, connection) = http1::Builder::new()
            .max_buf_size(MAX_ANSWER_HEAD)
            .handshake(stream)
            .await
            .map_err(|error| HttpError::Unreachable(error.into()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a provider connection ended with an error");
            }
        });
        Ok(sender)
    }
}

impl Pool {
    /// Closes the connections idle past `IDLE_TIMEOUT` or closed by their peer, of
    /// every origin, and forgets origins left with none: without it, a host a
    /// plugin named once would keep its sockets open for as long as the server runs.
    pub fn sweep(&self) {
        let now = Instant::now();
        let closing = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let mut closing = Vec::new();
            idle.retain(|_, connections| {
                let (keep, stale) = std::mem::take(connections).into_iter().partition(|(sender, since)| {
                    now.duration_since(*since) < IDLE_TIMEOUT && !sender.is_closed()
                });
                *connections = keep;
                closing.extend::<Vec<_>>(stale);
                !connections.is_empty()
            });
            closing
        };
        // Closed once the lock is released: calls need not wait for the sockets.
        drop(closing);
    }
}

impl Lease {
    /// The connection goes back for the next call, unless it is closing.
    pub fn give_back(self) {
        if self.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let connections = idle.entry(self.origin).or_default();
        let now = Instant::now();
        connections.retain(|(_, since)| now.duration_since(*since) < IDLE_TIMEOUT);
        if connections.len() < MAX_IDLE_PER_ORIGIN {
            connections.push((self.sender, now));
        }
    }
}

/// `host[:port]`, the port left out when it is the scheme's default.
fn host_header(scheme: &Scheme, authority: &Authority) -> Option<HeaderValue> {
    let default_port = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    let text = match authority.port_u16() {
        Some(port) if port == default_port => authority.host(),
        _ => authority.as_str(),
    };
    HeaderValue::from_str(text).ok()
}
