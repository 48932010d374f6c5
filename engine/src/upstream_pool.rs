//! The upstream client's keep-alive connections: a stack of idle ones per origin,
//! the newest first, each taken by one call of the runtime that opened it and given
//! back once that call's answer has been read to its end. hyper_util's pooled client
//! did this at ~16,000 instructions a call above a bare hyper connection
//! (`benches/upstream_client.rs`); this keeps only what proxied calls need. Calls
//! expire an origin's old connections as they come; `Pool::sweep` the ones of
//! origins no call comes to again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use rustc_hash::FxHashMap;
use tokio::net::TcpStream;
use tokio::runtime;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

use crate::error::EngineError;
use crate::policy::OutboundPolicy;
use crate::upstream::{malformed_url, unreachable};
use crate::upstream_conn::Connection;

/// Idle connections kept per origin; more are closed when given back.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed rather than reused (servers close
/// theirs after a minute or two; reusing one they just closed fails the call).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The most a new connection may take, TCP and TLS each.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    tls: TlsConnector,
    /// The keys are the operator's plugins' API bases, not callers' input, so a
    /// fast hash (no protection against chosen collisions) is fine.
    endpoints: Arc<Mutex<FxHashMap<Origin, Endpoint>>>,
    /// Which addresses a new connection may go to.
    outbound: OutboundPolicy,
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

/// A connection waiting for its next call, since when, and whose runtime drives
/// its socket.
struct Idle {
    connection: Connection,
    since: Instant,
    runtime: runtime::Id,
}

/// A connection taken from the pool for one call.
pub(crate) struct Lease {
    pub connection: Connection,
    idle: IdleConnections,
    /// The runtime that drives its socket.
    runtime: runtime::Id,
}

impl Pool {
    /// TLS trusts Mozilla's roots (webpki-roots), with ring's cryptography.
    pub fn new(outbound: OutboundPolicy) -> Result<Pool, EngineError> {
        Pool::trusting(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }, outbound)
    }

    /// A pool whose TLS trusts `roots` alone.
    pub fn trusting(roots: rustls::RootCertStore, outbound: OutboundPolicy) -> Result<Pool, EngineError> {
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| EngineError::Internal(format!("TLS setup: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Pool { tls: TlsConnector::from(Arc::new(config)), endpoints: Arc::default(), outbound })
    }

    /// `origin`'s endpoint in this pool, the same for every call; `None` if its
    /// host cannot be a `host` header or its scheme is neither http nor https.
    pub fn endpoint(&self, origin: Origin) -> Option<Endpoint> {
        if origin.scheme != Scheme::HTTP && origin.scheme != Scheme::HTTPS {
            return None;
        }
        let mut endpoints = self.endpoints.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(endpoint) = endpoints.get(&origin) {
            return Some(endpoint.clone());
        }
        let endpoint =
            Endpoint { host_header: origin.host_header()?, origin: origin.clone(), idle: Arc::default() };
        endpoints.insert(origin, endpoint.clone());
        Some(endpoint)
    }

    /// Closes the connections idle past the timeout by `now`, of every origin, and
    /// forgets the origins nothing else holds (no proxy plan, no call). Without it,
    /// an origin no call comes to again (a tenant's own host that a plugin named
    /// once; any origin, for a stopped runtime's connections) would keep its
    /// sockets open, and its place here, for as long as the server runs.
    pub fn sweep(&self, now: Instant) {
        let mut closing = Vec::new();
        let mut endpoints = self.endpoints.lock().unwrap_or_else(PoisonError::into_inner);
        endpoints.retain(|_, endpoint| {
            let mut connections = endpoint.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let too_old = expired_prefix(&connections, now);
            closing.extend(connections.drain(..too_old));
            !connections.is_empty() || Arc::strong_count(&endpoint.idle) > 1
        });
        // Closed once the locks are released: calls need not wait for the sockets.
        drop(endpoints);
        drop(closing);
    }

    /// How many origins the pool knows.
    #[cfg(test)]
    pub fn origins(&self) -> usize {
        self.endpoints.lock().map_or(0, |endpoints| endpoints.len())
    }

    /// A new connection to `endpoint`: TCP, then TLS for https.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<Lease, EngineError> {
        let origin = &endpoint.origin;
        let https = origin.scheme == Scheme::HTTPS;
        // An IPv6 literal is bracketed in a URL, not in an address.
        let host = origin.host().trim_start_matches('[').trim_end_matches(']');
        let port = origin.authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        // The addresses are the outbound policy's: checked here, where the
        // connection is made, not when the URL was named.
        let connect = async {
            let addresses = self.outbound.resolve(host, port).await.map_err(EngineError::Refused)?;
            TcpStream::connect(addresses.as_slice()).await.map_err(|_| unreachable())
        };
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect).await.map_err(|_| unreachable())??;
        let _ = tcp.set_nodelay(true);
        let transport = if https {
            let name =
                rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| malformed_url())?;
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, self.tls.connect(name, tcp))
                .await
                .map_err(|_| unreachable())?
                .map_err(|_| unreachable())?;
            Either::Right(Box::new(tls))
        } else {
            Either::Left(tcp)
        };
        let runtime = runtime::Handle::current().id();
        Ok(Lease { connection: Connection::new(transport), idle: endpoint.idle.clone(), runtime })
    }
}

impl Endpoint {
    pub fn host(&self) -> &str {
        self.origin.host()
    }

    /// The newest idle connection of this runtime that nothing arrived on
    /// meanwhile, or none. A socket is driven by the runtime it was opened on: on
    /// another (the server runs one per CPU), each of its wake-ups would cross
    /// threads, and it would fail once its runtime stops.
    pub fn idle(&self) -> Option<Lease> {
        let runtime = runtime::Handle::try_current().ok()?.id();
        let mut connections = self.idle.lock().ok()?;
        let expired = expiry(Instant::now());
        while let Some(newest) = connections.iter().rposition(|idle| idle.runtime == runtime) {
            let Idle { connection, since, .. } = connections.remove(newest);
            if expired(since) {
                // The older ones, of any runtime, are too old as well.
                connections.drain(..newest);
                return None;
            }
            if connection.is_quiet() {
                return Some(Lease { connection, idle: self.idle.clone(), runtime });
            }
        }
        None
    }
}

/// Whether a connection idle since an instant has expired by `now` (one
/// subtraction, then comparisons: cheaper than a `duration_since` each).
fn expiry(now: Instant) -> impl Fn(Instant) -> bool {
    let cutoff = now.checked_sub(IDLE_TIMEOUT);
    move |since| cutoff.is_some_and(|cutoff| since <= cutoff)
}

/// How many of an origin's idle connections have expired by `now`: given back
/// oldest first, the expired ones are a prefix.
fn expired_prefix(connections: &[Idle], now: Instant) -> usize {
    let expired = expiry(now);
    connections.partition_point(|idle| expired(idle.since))
}

impl Lease {
    /// Gives the connection back for the next call, if it can carry one.
    pub fn give_back(self) {
        if !self.connection.is_reusable() {
            return;
        }
        let Ok(mut connections) = self.idle.lock() else { return };
        let now = Instant::now();
        let too_old = expired_prefix(&connections, now);
        connections.drain(..too_old);
        if connections.len() < MAX_IDLE {
            connections.push(Idle { connection: self.connection, since: now, runtime: self.runtime });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{IDLE_TIMEOUT, Origin, expiry};

    #[test]
    fn a_connection_expires_once_idle_for_the_timeout() {
        // Later than now by twice the timeout, so that going back stays after boot.
        let now = Instant::now() + IDLE_TIMEOUT * 2;
        let expired = expiry(now);
        assert!(!expired(now));
        assert!(!expired(now - IDLE_TIMEOUT + Duration::from_millis(1)));
        assert!(expired(now - IDLE_TIMEOUT));
        assert!(expired(now - IDLE_TIMEOUT * 2));
    }

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
