//! The HTTP client of proxied calls: HTTP/1.1 connections driven by the calling
//! task (`upstream_conn`) over rustls (Mozilla's roots, ring) or plain http, kept
//! alive in `upstream_pool`. Proxied calls are the hot path: reqwest's layers
//! (redirect policy re-parsing each URL, timeout wrappers) cost ~10 µs a call on
//! top of hyper's, and hyper's connection task its channels. One timer covers the
//! call until the answer's head (longer while a streamed upload keeps moving), then
//! each wait for more of its body.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hyper::Method;
use hyper::http::uri::PathAndQuery;
use reqwest::header::HeaderMap;
use tokio::time::{Instant, Sleep};

use crate::error::EngineError;
use crate::http1_message::{Head, RequestHead, request_head};
use crate::policy::OutboundPolicy;
use crate::upstream_conn::Unsent;
use crate::upstream_pool::{Endpoint, Lease, Origin, Pool};

/// A request body relayed as it comes.
pub type RequestStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send>>;

/// The body of a proxied request: bytes at hand (sent with their length), or a
/// stream relayed as it comes (sized by the caller's `content-length`, else chunked).
pub enum ProxyBody {
    Bytes(Bytes),
    Stream(RequestStream),
}

impl ProxyBody {
    pub fn empty() -> Self {
        ProxyBody::Bytes(Bytes::new())
    }

    pub fn from_stream(chunks: impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static) -> Self {
        ProxyBody::Stream(Box::pin(chunks))
    }
}

impl From<Bytes> for ProxyBody {
    fn from(bytes: Bytes) -> Self {
        ProxyBody::Bytes(bytes)
    }
}

impl From<Vec<u8>> for ProxyBody {
    fn from(bytes: Vec<u8>) -> Self {
        ProxyBody::Bytes(bytes.into())
    }
}

/// An answer's body, chunk by chunk.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, EngineError>> + Send>>;

/// An upstream's answer.
pub struct Answer {
    pub status: u16,
    /// Its headers, less `content-length`, which is `length`.
    pub headers: HeaderMap,
    /// The body's declared length (none for a 204 or 304, which have no body).
    pub length: Option<u64>,
    pub body: BodyStream,
}

#[derive(Clone)]
pub struct Upstream {
    pool: Pool,
    timeout: Duration,
}

impl Upstream {
    /// `timeout` bounds a call until the answer's head has come (from the request, or
    /// from a streamed upload's last piece), then each wait for more of its body: a
    /// long upload or download lasts for as long as it keeps moving.
    /// `outbound` decides which addresses a new connection may go to.
    pub fn new(timeout: Duration, outbound: OutboundPolicy) -> Result<Self, EngineError> {
        Ok(Upstream { pool: Pool::new(outbound)?, timeout })
    }

    /// An upstream whose TLS trusts `roots` alone (a test's own certificate).
    #[cfg(test)]
    fn trusting(timeout: Duration, roots: rustls::RootCertStore) -> Result<Self, EngineError> {
        Ok(Upstream { pool: Pool::trusting(roots, OutboundPolicy::danger_loopback())?, timeout })
    }

    /// Sends a request to `uri` (absolute: its origin picks the connection) on a
    /// kept-alive connection or a new one.
    pub async fn send(
        &self,
        method: Method,
        uri: hyper::Uri,
        headers: HeaderMap,
        body: ProxyBody,
    ) -> Result<Answer, EngineError> {
        let (origin, target) = Origin::split(uri).ok_or_else(malformed_url)?;
        let endpoint = self.endpoint(origin).ok_or_else(malformed_url)?;
        self.send_to(&endpoint, target, method, headers, body).await
    }

    /// Where calls to `origin` go (`None` if its host is malformed): kept, it
    /// spares each call a lookup by origin.
    pub(crate) fn endpoint(&self, origin: Origin) -> Option<Endpoint> {
        self.pool.endpoint(origin)
    }

    /// Closes connections left idle past their time, of origins no call comes to too
    /// (the engine's sweeper calls it every second).
    pub(crate) fn sweep_idle(&self) {
        self.pool.sweep(std::time::Instant::now());
    }

    /// `send`, with the URI already split: `target` is the path and query.
    pub(crate) async fn send_to(
        &self,
        endpoint: &Endpoint,
        target: PathAndQuery,
        method: Method,
        headers: HeaderMap,
        body: ProxyBody,
    ) -> Result<Answer, EngineError> {
        let head = request_head(&method, target.as_str(), &endpoint.host_header, &headers, &body)?;
        let (body, upload) = Upload::watch(body);
        // One timer for the call until the answer's head, then for each wait on its body.
        let mut timer = Box::pin(tokio::time::sleep_until(Instant::now() + self.timeout));
        let exchange = self.exchange(endpoint, &head, &method, body);
        tokio::pin!(exchange);
        let (answer, lease) = loop {
            tokio::select! {
                // The call first, then the timer: no random pick of which to poll.
                biased;
                sent = &mut exchange => break sent?,
                () = timer.as_mut() => {
                    // A streamed upload that moved within `timeout` has that long again.
                    let until = upload.as_ref().map(|upload| upload.last_moved() + self.timeout);
                    match until.filter(|&until| until > Instant::now()) {
                        Some(until) => timer.as_mut().reset(until),
                        None => return Err(late()),
                    }
                }
            }
        };
        Ok(Answer {
            status: answer.status.as_u16(),
            headers: answer.headers,
            length: answer.length,
            body: answer_body(timer, self.timeout, lease),
        })
    }

    /// Sends on an idle connection, or on a new one, and reads the answer's head. An
    /// idle connection the provider closed meanwhile takes nothing of the request,
    /// and the next one is tried.
    async fn exchange(
        &self,
        endpoint: &Endpoint,
        head: &RequestHead,
        method: &Method,
        mut body: ProxyBody,
    ) -> Result<(Head, Lease), EngineError> {
        loop {
            let (mut lease, reused) = match endpoint.idle() {
                Some(lease) => (lease, true),
                None => (self.pool.connect(endpoint).await?, false),
            };
            match lease.connection.send(head, body).await {
                Ok(()) => return Ok((lease.connection.read_head(method).await?, lease)),
                Err(Unsent::Untouched(unsent)) if reused => body = unsent,
                Err(Unsent::Untouched(_)) => return Err(unreachable()),
                // A provider may refuse a request (an upload too large, say) without
                // reading it: its answer is the call's.
                Err(Unsent::CutOff) => {
                    let head = lease.connection.read_head(method).await.map_err(|_| cut_off())?;
                    return Ok((head, lease));
                }
                Err(Unsent::Failed(error)) => return Err(error),
            }
        }
    }
}

/// When a streamed upload last moved (the client sent a piece, the provider took
/// the one before): an upload that keeps moving may take longer than one timeout.
struct Upload {
    started: Instant,
    /// Milliseconds from `started`.
    moved_at: Arc<AtomicU64>,
}

impl Upload {
    /// A streamed `body` made to note each piece it yields, and its upload; bytes at
    /// hand stay as they are, with none.
    fn watch(body: ProxyBody) -> (ProxyBody, Option<Upload>) {
        let ProxyBody::Stream(pieces) = body else { return (body, None) };
        let upload = Upload { started: Instant::now(), moved_at: Arc::default() };
        let (started, moved_at) = (upload.started, upload.moved_at.clone());
        let noted = pieces.inspect(move |_| {
            moved_at.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        });
        (ProxyBody::from_stream(noted), Some(upload))
    }

    fn last_moved(&self) -> Instant {
        self.started + Duration::from_millis(self.moved_at.load(Ordering::Relaxed))
    }
}

fn late() -> EngineError {
    EngineError::Upstream("the provider did not answer in time".into())
}

fn cut_off() -> EngineError {
    EngineError::Upstream("the connection to the provider broke off".into())
}

pub(crate) fn unreachable() -> EngineError {
    EngineError::Upstream("the provider could not be reached".into())
}

pub(crate) fn malformed_url() -> EngineError {
    EngineError::Invalid("the proxy URL is malformed".into())
}

/// The body's data, failing once `timer` fires, set again `wait` ahead after each
/// piece (trailers are dropped). Read to its end, the connection goes back to the
/// pool; dropped before, it is closed. With nothing to read (204, 304, HEAD, length
/// 0), or once the last byte of a declared length is read, it goes back at once: a
/// server does not poll for the end of a body it has sent whole, nor an empty one.
fn answer_body(timer: Pin<Box<Sleep>>, wait: Duration, lease: Lease) -> BodyStream {
    if lease.connection.answer_is_read() {
        lease.give_back();
        return Box::pin(futures_util::stream::empty());
    }
    Box::pin(futures_util::stream::unfold(Some((timer, lease)), move |state| async move {
        let (mut timer, mut lease) = state?;
        let next = tokio::select! {
            // As in `send_to`.
            biased;
            next = lease.connection.read_body() => next,
            () = timer.as_mut() => return Some((Err(late()), None)),
        };
        match next {
            Ok(Some(data)) if lease.connection.answer_is_read() => {
                lease.give_back();
                Some((Ok(data), None))
            }
            Ok(Some(data)) => {
                timer.as_mut().reset(Instant::now() + wait);
                Some((Ok(data), Some((timer, lease))))
            }
            Ok(None) => {
                lease.give_back();
                None
            }
            Err(error) => Some((Err(error), None)),
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::policy::OutboundPolicy;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::{ProxyBody, Upstream};
    use crate::error::EngineError;
    use crate::upstream_pool::IDLE_TIMEOUT;

    /// A peer that reads one request, hands it over, writes `answer` and then holds
    /// the connection open (a stalled answer must end by the deadline).
    async fn peer(answer: &'static [u8]) -> (String, tokio::sync::oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (hand_over, request) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut received = vec![0; 4096];
            let read = stream.read(&mut received).await.unwrap();
            let _ = hand_over.send(String::from_utf8_lossy(&received[..read]).into_owned());
            stream.write_all(answer).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        (format!("http://{address}/api/x?q=1"), request)
    }

    /// A POST of "ping" with a bearer token; the answer's body is left unread.
    async fn send_ping(upstream: &Upstream, url: &str) -> Result<super::Answer, EngineError> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse().unwrap());
        upstream
            .send(hyper::Method::POST, url.parse().unwrap(), headers, ProxyBody::from(b"ping".to_vec()))
            .await
    }

    /// `send_ping`, and its answer read to the end.
    async fn call(upstream: &Upstream, url: &str) -> Result<(u16, Vec<u8>), EngineError> {
        let answer = send_ping(upstream, url).await?;
        let mut body = Vec::new();
        let mut chunks = answer.body;
        while let Some(chunk) = chunks.next().await {
            body.extend_from_slice(&chunk?);
        }
        Ok((answer.status, body))
    }

    #[tokio::test]
    async fn a_call_carries_method_path_headers_and_body_and_streams_the_answer() {
        let (url, request) = peer(b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\npong").await;
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        assert_eq!(call(&upstream, &url).await.unwrap(), (201, b"pong".to_vec()));
        let request = request.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post /api/x?q=1 http/1.1\r\n"), "{request}");
        for line in ["authorization: bearer t\r\n", "content-length: 4\r\n", "host: 127.0.0.1:"] {
            assert!(request.contains(line), "{line} in {request}");
        }
        assert!(request.ends_with("\r\n\r\nping"), "{request}");
    }

    /// A keep-alive peer answering every request on a connection with `answer`,
    /// closing each connection after `per_connection` answers; counts connections.
    async fn keep_alive_peer(answer: &'static [u8], per_connection: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/x", listener.local_addr().unwrap());
        (url, serve_keep_alive(listener, None, answer, per_connection))
    }

    /// `keep_alive_peer` on `listener`, over TLS with `tls`.
    fn serve_keep_alive(
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        answer: &'static [u8],
        per_connection: usize,
    ) -> Arc<AtomicUsize> {
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                match &tls {
                    None => tokio::spawn(answer_each_request(stream, answer, per_connection)),
                    Some(tls) => {
                        let stream = tls.accept(stream).await.unwrap();
                        tokio::spawn(answer_each_request(stream, answer, per_connection))
                    }
                };
            }
        });
        connections
    }

    /// Answers `per_connection` requests of `call` on `stream` with `answer`, then closes.
    async fn answer_each_request(
        mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
        answer: &'static [u8],
        per_connection: usize,
    ) {
        for _ in 0..per_connection {
            // Every request of `call` ends with its body, "ping".
            let mut request = Vec::new();
            while !request.ends_with(b"ping") {
                let mut chunk = [0u8; 1024];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => request.extend_from_slice(&chunk[..read]),
                }
            }
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
    }

    /// Three calls in a row: one connection while the provider keeps it open, one
    /// each when it closes every connection after its answer.
    #[tokio::test]
    async fn a_connection_serves_the_next_call_once_its_answer_is_read_unless_closed() {
        for (answers_per_connection, connections_needed) in [(100, 1), (1, 3)] {
            let (url, connections) =
                keep_alive_peer(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong", answers_per_connection)
                    .await;
            let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
            for _ in 0..3 {
                assert_eq!(call(&upstream, &url).await.unwrap(), (200, b"pong".to_vec()));
                // Time for a connection to notice the provider's close.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(connections.load(Ordering::SeqCst), connections_needed);
        }
    }

    /// Answers without a body are never polled by some callers (a server sends a 204
    /// without touching its body): their connection goes back all the same.
    #[tokio::test]
    async fn an_answer_with_nothing_to_read_gives_its_connection_back_at_once() {
        let empty: [&[u8]; 2] =
            [b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"];
        for answer in empty {
            let (url, connections) = keep_alive_peer(answer, 100).await;
            let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
            for _ in 0..3 {
                let unread = send_ping(&upstream, &url).await.unwrap();
                assert!(matches!(unread.status, 200 | 204));
                drop(unread);
            }
            assert_eq!(connections.load(Ordering::SeqCst), 1, "{}", String::from_utf8_lossy(answer));
        }
    }

    /// hyper's server stops polling a body once it has sent its declared length.
    #[tokio::test]
    async fn an_answer_read_to_its_length_gives_its_connection_back_without_polling_its_end() {
        let (url, connections) =
            keep_alive_peer(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong", 100).await;
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        for _ in 0..3 {
            let mut answer = send_ping(&upstream, &url).await.unwrap();
            assert_eq!(answer.body.next().await.unwrap().unwrap(), &b"pong"[..]);
            drop(answer);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_answer_left_unread_takes_its_connection_with_it() {
        let (url, connections) =
            keep_alive_peer(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\npong", 100).await;
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        let unread = send_ping(&upstream, &url).await.unwrap();
        assert_eq!(unread.length, Some(8));
        drop(unread);
        // Its connection still owes four bytes, which a call on it would take for the
        // start of its own answer. The second call's answer is as short as the first.
        let second = tokio::time::timeout(Duration::from_millis(500), call(&upstream, &url)).await;
        assert!(second.is_err(), "{second:?}");
        assert_eq!(connections.load(Ordering::SeqCst), 2, "the second call needs a new connection");
    }

    #[tokio::test]
    async fn a_provider_silent_before_its_head_or_amid_its_body_fails_in_time() {
        let upstream = Upstream::new(Duration::from_millis(300), OutboundPolicy::danger_loopback()).unwrap();
        let (silent, _) = peer(b"").await;
        let started = std::time::Instant::now();
        let error = call(&upstream, &silent).await.unwrap_err();
        assert!(error.to_string().contains("did not answer in time"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let (stalled, _) = peer(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst ten.").await;
        let error = call(&upstream, &stalled).await.unwrap_err();
        assert!(error.to_string().contains("did not answer in time"), "{error}");
    }

    /// After the head, the timer bounds each wait for more of the body, not the
    /// whole: a download that keeps coming is read to its end, however long it takes.
    #[tokio::test]
    async fn an_answer_that_keeps_coming_is_read_whole_past_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/x", listener.local_addr().unwrap());
        let gap = Duration::from_millis(150);
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let _ = stream.read(&mut [0; 4096]).await.unwrap();
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n").await.unwrap();
            for digit in b"0123456789" {
                tokio::time::sleep(gap).await;
                stream.write_all(&[*digit]).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let upstream = Upstream::new(Duration::from_secs(1), OutboundPolicy::danger_loopback()).unwrap();
        let started = std::time::Instant::now();
        let (status, body) = call(&upstream, &url).await.unwrap();
        assert_eq!((status, body.as_slice()), (200, b"0123456789".as_slice()));
        assert!(started.elapsed() > gap * 10, "{:?}", started.elapsed());
    }

    /// A streamed upload that keeps moving may last longer than the timeout; one
    /// that stops fails the call in time.
    #[tokio::test]
    async fn a_streamed_upload_has_the_timeout_from_its_last_piece() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/x", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let (mut request, mut received) = (Vec::new(), [0; 4096]);
                    while !request.ends_with(b"0\r\n\r\n") {
                        match stream.read(&mut received).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => request.extend_from_slice(&received[..read]),
                        }
                    }
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                });
            }
        });
        // A POST of `pieces` under `timeout`, and how long it took.
        let upload = |timeout, pieces: ProxyBody| {
            let (upstream, url) =
                (Upstream::new(timeout, OutboundPolicy::danger_loopback()).unwrap(), url.parse().unwrap());
            async move {
                let started = std::time::Instant::now();
                let sent = upstream.send(hyper::Method::POST, url, Default::default(), pieces).await;
                (sent, started.elapsed())
            }
        };
        let gap = Duration::from_millis(150);
        let steady = futures_util::stream::iter(0..10).then(move |_| async move {
            tokio::time::sleep(gap).await;
            Ok(bytes::Bytes::from_static(b"piece"))
        });
        let (sent, took) = upload(Duration::from_secs(1), ProxyBody::from_stream(steady)).await;
        assert_eq!(sent.unwrap().status, 200);
        assert!(took > gap * 10, "{took:?}");

        let first = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"piece"))]);
        let stops = first.chain(futures_util::stream::pending());
        let (sent, took) = upload(Duration::from_millis(300), ProxyBody::from_stream(stops)).await;
        assert!(matches!(&sent, Err(error) if error.to_string().contains("in time")), "{:?}", sent.err());
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_an_upstream_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        let error = call(&upstream, &closed).await.unwrap_err();
        assert!(
            matches!(&error, EngineError::Upstream(why) if why.contains("could not be reached")),
            "{error}"
        );
    }

    /// A TLS provider's side: a certificate for "localhost", its acceptor, a listener
    /// and the URL of `path` on it.
    async fn tls_provider(
        path: &str,
    ) -> (rcgen::CertifiedKey<rcgen::KeyPair>, tokio_rustls::TlsAcceptor, TcpListener, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let config =
            rustls::ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![certified.cert.der().clone()], key.into())
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}{path}", listener.local_addr().unwrap().port());
        (certified, acceptor, listener, url)
    }

    /// Over TLS a request goes out whole (flushed through the TLS layer), its answer
    /// comes back, and the connection carries the next calls.
    #[tokio::test]
    async fn a_trusted_https_provider_answers_on_one_kept_connection() {
        let (certified, acceptor, listener, url) = tls_provider("/api/x").await;
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong";
        let connections = serve_keep_alive(listener, Some(acceptor), answer, 100);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone()).unwrap();
        let upstream = Upstream::trusting(Duration::from_secs(5), roots).unwrap();
        for _ in 0..3 {
            assert_eq!(call(&upstream, &url).await.unwrap(), (200, b"pong".to_vec()));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    /// A provider whose certificate no trusted root vouches for gets no request: the
    /// engine aborts the handshake (a provider's API sees the vaulted token).
    #[tokio::test]
    async fn an_https_provider_with_an_untrusted_certificate_gets_nothing() {
        let (_, acceptor, listener, url) = tls_provider("/").await;
        let served = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(stream).await.map_err(|error| error.to_string())?;
            let mut request = vec![0; 1024];
            let read = tls.read(&mut request).await.map_err(|error| error.to_string())?;
            Ok::<_, String>(String::from_utf8_lossy(&request[..read]).into_owned())
        });
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        let error = call(&upstream, &url).await.unwrap_err();
        assert!(
            matches!(&error, EngineError::Upstream(why) if why.contains("could not be reached")),
            "{error}"
        );
        let server_side = served.await.unwrap();
        assert!(server_side.is_err(), "the handshake must fail before any request: {server_side:?}");
    }

    #[tokio::test]
    async fn https_urls_speak_tls() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}/", listener.local_addr().unwrap().port());
        let first = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.unwrap();
            byte[0]
        });
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        assert!(call(&upstream, &url).await.is_err(), "no TLS server there");
        assert_eq!(first.await.unwrap(), 0x16, "a TLS handshake record opens the connection");
    }

    /// A provider that refuses an upload before reading it: its answer is the call's,
    /// though the body could not be sent whole.
    #[tokio::test]
    async fn an_answer_sent_before_the_upload_was_read_is_the_calls() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/upload", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 512];
            let _ = stream.read(&mut head).await;
            let refusal =
                b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntoo much";
            stream.write_all(refusal).await.unwrap();
            // Closing with the upload unread resets the connection.
        });
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        let chunks = (0..256).map(|_| Ok(bytes::Bytes::from(vec![b'x'; 64 << 10])));
        let body = ProxyBody::from_stream(futures_util::stream::iter(chunks));
        let answer = upstream.send(hyper::Method::PUT, url.parse().unwrap(), Default::default(), body).await;
        let mut answer = answer.unwrap();
        assert_eq!(answer.status, 413);
        assert_eq!(answer.body.next().await.unwrap().unwrap(), &b"too much"[..]);
    }

    /// Each runtime reuses the connections it opened (a socket is driven by the
    /// runtime it was opened on), and leaves the others' alone.
    #[tokio::test]
    async fn a_runtime_reuses_its_own_connections_only() {
        let (url, connections) =
            keep_alive_peer(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong", 100).await;
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        call(&upstream, &url).await.unwrap();
        let (done, other_runtime_done) = tokio::sync::oneshot::channel();
        let (other, other_url) = (upstream.clone(), url.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let calls = runtime.block_on(async {
                for _ in 0..2 {
                    call(&other, &other_url).await?;
                }
                Ok::<_, EngineError>(())
            });
            let _ = done.send(calls);
        });
        other_runtime_done.await.unwrap().unwrap();
        assert_eq!(connections.load(Ordering::SeqCst), 2, "the other runtime opened one and kept it");
        call(&upstream, &url).await.unwrap();
        assert_eq!(connections.load(Ordering::SeqCst), 2, "this runtime's connection waited for it");
    }

    /// The sweep closes a connection idle past the timeout though no call to its
    /// origin comes again, and forgets the origin once nothing holds it.
    #[tokio::test]
    async fn the_sweep_closes_connections_idle_too_long_and_forgets_their_origin() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/x", listener.local_addr().unwrap());
        let (closed, seen_closed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (mut request, mut received) = (Vec::new(), [0; 4096]);
            while !request.ends_with(b"ping") {
                let read = stream.read(&mut received).await.unwrap();
                assert!(read > 0, "the request broke off");
                request.extend_from_slice(&received[..read]);
            }
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong").await.unwrap();
            // Ends when the client closes the connection.
            let _ = closed.send(stream.read(&mut received).await.unwrap());
        });
        let upstream = Upstream::new(Duration::from_secs(5), OutboundPolicy::danger_loopback()).unwrap();
        call(&upstream, &url).await.unwrap();
        let (origin, _) = super::Origin::split(url.parse().unwrap()).unwrap();
        let plan_held = upstream.endpoint(origin).unwrap();

        let now = std::time::Instant::now();
        upstream.pool.sweep(now);
        assert_eq!(upstream.pool.origins(), 1, "its connection is fresh");
        upstream.pool.sweep(now + IDLE_TIMEOUT);
        let read = tokio::time::timeout(Duration::from_secs(5), seen_closed).await.unwrap().unwrap();
        assert_eq!(read, 0, "the peer saw its connection closed");
        assert_eq!(upstream.pool.origins(), 1, "a plan still holds the origin");
        drop(plan_held);
        upstream.pool.sweep(now + IDLE_TIMEOUT);
        assert_eq!(upstream.pool.origins(), 0);
    }
}
