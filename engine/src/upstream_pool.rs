//! The upstream client's keep-alive connections, per origin. hyper_util's pooled
//! client did this for us at ~16,000 instructions a call above a bare hyper
//! connection (`benches/upstream_client.rs`: its checkout, its per-request
//! bookkeeping, a `host` header formatted each time); this keeps only what proxied
//! calls need, at ~6,200: a stack of idle HTTP/1 senders per origin, the newest
//! first, each taken by one call and given back once that call's answer has been
//! read to its end. hyper's connection itself refuses a second request before the
//! first answer is read, so a connection cannot mix two answers.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HeaderValue;
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustc_hash::FxHashMap;
use tower_service::Service;

use crate::error::EngineError;
use crate::upstream::{malformed, unreachable};

pub(crate) type Body = UnsyncBoxBody<Bytes, io::Error>;
type Sender = SendRequest<Body>;

/// Idle connections kept per origin; more are closed when given back.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed rather than reused (servers close
/// theirs after a minute or two; reusing one they just closed fails the call).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    scheme: Scheme,
    authority: Authority,
}

impl Origin {
    /// An absolute URI's origin, and its path and query as the request's target
    /// (origin-form, as HTTP/1.1 sends it to a server).
    pub fn split(uri: hyper::Uri) -> Option<(Origin, PathAndQuery)> {
        let parts = uri.into_parts();
        let origin = Origin { scheme: parts.scheme?, authority: parts.authority? };
        let target = parts.path_and_query.unwrap_or_else(|| PathAndQuery::from_static("/"));
        Some((origin, target))
    }

    pub fn host(&self) -> &str {
        self.authority.host()
    }

    /// `host[:port]`: the authority less any user info, and less the port when it
    /// is the scheme's default.
    fn host_header(&self) -> Option<HeaderValue> {
        let authority = self.authority.as_str();
        let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let default_port = if self.scheme == Scheme::HTTPS { 443 } else { 80 };
        let host = match self.authority.port_u16() {
            Some(port) if port == default_port => self.authority.host(),
            _ => host_and_port,
        };
        HeaderValue::from_str(host).ok()
    }
}

#[derive(Clone)]
pub(crate) struct Pool {
    connector: HttpsConnector<HttpConnector>,
    /// The keys are the operator's plugins' API bases, not callers' input, so a
    /// fast hash (no protection against chosen collisions) is fine.
    endpoints: Arc<Mutex<FxHashMap<Origin, Endpoint>>>,
}

/// An origin and its idle connections in one pool. Made once per origin
/// (`Pool::endpoint`) and kept by whoever calls it often (a proxy plan), so a
/// call finds its connections without looking its origin up.
#[derive(Clone)]
pub(crate) struct Endpoint {
    origin: Origin,
    /// The `host` header of every request to it.
    pub host_header: HeaderValue,
    idle: IdleConnections,
}

/// The newest last.
type IdleConnections = Arc<Mutex<Vec<Idle>>>;

/// A connection waiting for its next call, since when.
struct Idle {
    sender: Sender,
    since: Instant,
}

/// A connection taken from the pool for one call.
pub(crate) struct Lease {
    pub sender: Sender,
    idle: IdleConnections,
}

impl Pool {
    pub fn new(connector: HttpsConnector<HttpConnector>) -> Pool {
        Pool { connector, endpoints: Arc::default() }
    }

    /// `origin`'s endpoint in this pool, the same for every call; `None` if its
    /// host cannot be a `host` header.
    pub fn endpoint(&self, origin: Origin) -> Option<Endpoint> {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(endpoint) = endpoints.get(&origin) {
            return Some(endpoint.clone());
        }
        let endpoint =
            Endpoint { host_header: origin.host_header()?, origin: origin.clone(), idle: Arc::default() };
        endpoints.insert(origin, endpoint.clone());
        Some(endpoint)
    }

    /// A new connection to `endpoint` (TCP, then TLS for https), its I/O driven by a task.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<Lease, EngineError> {
        let origin = &endpoint.origin;
        let uri = hyper::Uri::builder()
            .scheme(origin.scheme.clone())
            .authority(origin.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|_| malformed())?;
        let stream = self.connector.clone().call(uri).await.map_err(|_| unreachable())?;
        let (sender, connection) = http1::handshake(stream).await.map_err(|_| unreachable())?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "an upstream connection ended");
            }
        });
        Ok(Lease { sender, idle: endpoint.idle.clone() })
    }
}

impl Endpoint {
    pub fn host(&self) -> &str {
        self.origin.host()
    }

    /// The newest idle connection that is still open, or none.
    pub fn idle(&self) -> Option<Lease> {
        let mut senders = self.idle.lock().ok()?;
        let now = Instant::now();
        while let Some(Idle { sender, since }) = senders.pop() {
            if now.duration_since(since) >= IDLE_TIMEOUT {
                // The newest is too old, so are the others.
                senders.clear();
                return None;
            }
            if !sender.is_closed() {
                return Some(Lease { sender, idle: self.idle.clone() });
            }
        }
        None
    }
}

impl Lease {
    /// Gives the connection back for the next call, if it is still open.
    pub fn give_back(self) {
        if self.sender.is_closed() {
            return;
        }
        let Ok(mut senders) = self.idle.lock() else { return };
        // Oldest first: the expired ones are a prefix.
        let now = Instant::now();
        let expired = senders.partition_point(|idle| now.duration_since(idle.since) >= IDLE_TIMEOUT);
        senders.drain(..expired);
        if senders.len() < MAX_IDLE {
            senders.push(Idle { sender: self.sender, since: now });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn a_uri_splits_into_its_origin_and_target_and_the_host_header_drops_defaults() {
        let cases = [
            ("https://api.example:443/v1/x?q=1", "api.example", "/v1/x?q=1"),
            ("https://api.example:8443/v1", "api.example:8443", "/v1"),
            ("http://user:secret@127.0.0.1:8080", "127.0.0.1:8080", "/"),
            ("http://[::1]:80/a", "[::1]", "/a"),
        ];
        for (uri, host, target) in cases {
            let (origin, path) = Origin::split(uri.parse().unwrap()).unwrap();
            assert_eq!(origin.host_header().unwrap(), host, "{uri}");
            assert_eq!(path.to_string(), target, "{uri}");
        }
        assert!(Origin::split("/relative".parse().unwrap()).is_none());
    }
}
