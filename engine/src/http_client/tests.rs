use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use hyper::Method;
use hyper::header::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Answer, HttpClient, HttpError, ProxyBody};
use crate::policy::{OutboundPolicy, PolicyError};

const TIMEOUT: Duration = Duration::from_secs(5);

fn client() -> HttpClient {
    HttpClient::new(OutboundPolicy::danger_loopback()).unwrap()
}

/// A peer that reads one request's head (and whatever came with it), hands it
/// over, writes `answer` and then holds the connection open.
async fn peer(answer: &'static [u8]) -> (String, tokio::sync::oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (hand_over, request) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut chunk = vec![0; 4096];
        // The head, and a body of up to a few bytes that came with it.
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut chunk).await.unwrap();
            if read == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..read]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(Ok(read)) = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut chunk)).await {
            received.extend_from_slice(&chunk[..read]);
        }
        let _ = hand_over.send(String::from_utf8_lossy(&received).into_owned());
        stream.write_all(answer).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    (format!("http://{address}/api/x?q=1"), request)
}

async fn send(client: &HttpClient, method: Method, url: &str, body: ProxyBody) -> Result<Answer, HttpError> {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer t".parse().unwrap());
    client.send(method, url.parse().unwrap(), headers, body, TIMEOUT).await
}

/// A POST of "ping" with a bearer token, its answer read to the end.
async fn call(client: &HttpClient, url: &str) -> Result<(u16, Vec<u8>), HttpError> {
    let answer = send(client, Method::POST, url, ProxyBody::from(b"ping".to_vec())).await?;
    let status = answer.status;
    Ok((status, answer.read_to_end(1 << 20).await?.to_vec()))
}

#[tokio::test]
async fn a_call_carries_method_path_headers_and_body_and_streams_the_answer() {
    let (url, request) = peer(b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\npong").await;
    assert_eq!(call(&client(), &url).await.unwrap(), (201, b"pong".to_vec()));
    let request = request.await.unwrap().to_ascii_lowercase();
    assert!(request.starts_with("post /api/x?q=1 http/1.1\r\n"), "{request}");
    for line in ["authorization: bearer t\r\n", "content-length: 4\r\n", "host: 127.0.0.1:"] {
        assert!(request.contains(line), "{line} in {request}");
    }
    assert!(request.ends_with("\r\n\r\nping"), "{request}");
}

/// Framing is the library's: nothing for a body-less request, a length for bytes
/// at hand or a stream of known length, chunks for a stream of unknown length.
#[tokio::test]
async fn a_body_is_framed_by_what_it_is_and_a_bodiless_request_has_no_framing() {
    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    let piece = || futures_util::stream::iter([Ok(Bytes::from_static(b"ping"))]);
    let cases: Vec<(Method, ProxyBody, &[&str], &[&str])> = vec![
        (Method::GET, ProxyBody::empty(), &[], &["content-length", "transfer-encoding"]),
        (Method::DELETE, ProxyBody::empty(), &[], &["transfer-encoding"]),
        (Method::PUT, ProxyBody::from(b"ping".to_vec()), &["content-length: 4"], &["transfer-encoding"]),
        (
            Method::PUT,
            ProxyBody::from_stream(piece(), Some(4)),
            &["content-length: 4"],
            &["transfer-encoding"],
        ),
        (
            Method::PUT,
            ProxyBody::from_stream(piece(), None),
            &["transfer-encoding: chunked"],
            &["content-length"],
        ),
    ];
    for (method, body, present, absent) in cases {
        let (url, request) = peer(ok).await;
        let answer = send(&client(), method.clone(), &url, body).await.unwrap();
        assert_eq!(answer.status, 200);
        let request = request.await.unwrap().to_ascii_lowercase();
        for line in present {
            assert!(request.contains(line), "{method} {line} in {request}");
        }
        for name in absent {
            assert!(!request.contains(&format!("{name}:")), "{method} without {name}: {request}");
        }
    }
}

/// A keep-alive peer answering every request with `answer`, closing each
/// connection after `per_connection` answers; counts connections.
async fn keep_alive_peer(answer: &'static [u8], per_connection: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/x", listener.local_addr().unwrap());
    (url, serve_keep_alive(listener, None, answer, per_connection))
}

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
                    let Ok(stream) = tls.accept(stream).await else { continue };
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
        let client = client();
        for _ in 0..3 {
            assert_eq!(call(&client, &url).await.unwrap(), (200, b"pong".to_vec()));
            // Time for a connection to notice the provider's close.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(connections.load(Ordering::SeqCst), connections_needed);
    }
}

/// Answers without a body, or read to their declared length, give their
/// connection back without their end being polled.
#[tokio::test]
async fn an_answer_with_nothing_more_to_read_gives_its_connection_back() {
    let answers: [&[u8]; 3] = [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong",
    ];
    for answer in answers {
        let (url, connections) = keep_alive_peer(answer, 100).await;
        let client = client();
        for _ in 0..3 {
            let mut unread =
                send(&client, Method::POST, &url, ProxyBody::from(b"ping".to_vec())).await.unwrap();
            if unread.length == Some(4) {
                assert_eq!(unread.body.next().await.unwrap().unwrap(), &b"pong"[..]);
            }
            drop(unread);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1, "{}", String::from_utf8_lossy(answer));
    }
}

#[tokio::test]
async fn an_answer_left_unread_takes_its_connection_with_it() {
    let (url, connections) = keep_alive_peer(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\npong", 100).await;
    let client = client();
    let unread = send(&client, Method::POST, &url, ProxyBody::from(b"ping".to_vec())).await.unwrap();
    assert_eq!(unread.length, Some(8));
    drop(unread);
    // Its connection still owes four bytes: the next call needs a new one.
    let second = tokio::time::timeout(Duration::from_millis(500), call(&client, &url)).await;
    assert!(second.is_err(), "{second:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_provider_silent_before_its_head_or_amid_its_body_times_out() {
    let client = client();
    let quick = |url: &str| {
        let (client, url) = (client.clone(), url.to_owned());
        async move {
            let answer = client
                .send(
                    Method::GET,
                    url.parse().unwrap(),
                    HeaderMap::new(),
                    ProxyBody::empty(),
                    Duration::from_millis(300),
                )
                .await?;
            answer.read_to_end(1 << 20).await
        }
    };
    let (silent, _) = peer(b"").await;
    let started = std::time::Instant::now();
    assert!(matches!(quick(&silent).await, Err(HttpError::Timeout)));
    assert!(started.elapsed() < Duration::from_secs(5));
    let (stalled, _) = peer(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst ten.").await;
    assert!(matches!(quick(&stalled).await, Err(HttpError::Timeout)));
}

/// After the head, the timer bounds each wait for more of the body, not the whole.
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
    let started = std::time::Instant::now();
    let answer = client()
        .send(Method::GET, url.parse().unwrap(), HeaderMap::new(), ProxyBody::empty(), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(answer.read_to_end(100).await.unwrap(), &b"0123456789"[..]);
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
    let upload = |timeout, pieces: ProxyBody| {
        let (client, url) = (client(), url.parse().unwrap());
        async move {
            let started = std::time::Instant::now();
            let sent = client.send(Method::POST, url, HeaderMap::new(), pieces, timeout).await;
            (sent, started.elapsed())
        }
    };
    let gap = Duration::from_millis(150);
    let steady = futures_util::stream::iter(0..10).then(move |_| async move {
        tokio::time::sleep(gap).await;
        Ok(Bytes::from_static(b"piece"))
    });
    let (sent, took) = upload(Duration::from_secs(1), ProxyBody::from_stream(steady, None)).await;
    assert_eq!(sent.unwrap().status, 200);
    assert!(took > gap * 10, "{took:?}");

    let first = futures_util::stream::iter([Ok(Bytes::from_static(b"piece"))]);
    let stops = first.chain(futures_util::stream::pending());
    let (sent, took) = upload(Duration::from_millis(300), ProxyBody::from_stream(stops, None)).await;
    assert!(matches!(sent, Err(HttpError::Timeout)), "{:?}", sent.err());
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn an_unreachable_provider_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    assert!(matches!(call(&client(), &closed).await, Err(HttpError::Unreachable(_))));
}

/// The connector holds connections to the policy: a loopback name or address is
/// refused where the policy does not allow it, before any connection.
#[tokio::test]
async fn connections_to_addresses_the_policy_refuses_are_never_made() {
    let (url, connections) = keep_alive_peer(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong", 100).await;
    let strict = HttpClient::new(OutboundPolicy::default()).unwrap();
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    for url in
        [url.clone(), format!("http://localhost:{port}/api/x"), format!("http://[::ffff:127.0.0.1]:{port}/")]
    {
        let refused = call(&strict, &url).await;
        assert!(
            matches!(refused, Err(HttpError::Refused(PolicyError::InternalAddress(_)))),
            "{url}: {refused:?}"
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

/// A TLS provider's side: a certificate for "localhost", its acceptor, a listener
/// and the URL of `path` on it.
async fn tls_provider(
    path: &str,
) -> (rcgen::CertifiedKey<rcgen::KeyPair>, tokio_rustls::TlsAcceptor, TcpListener, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let config =
        rustls::ServerConfig::builder_with_provider(rustls::crypto::aws_lc_rs::default_provider().into())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key.into())
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}{path}", listener.local_addr().unwrap().port());
    (certified, acceptor, listener, url)
}

#[tokio::test]
async fn a_trusted_https_provider_answers_on_one_kept_connection() {
    let (certified, acceptor, listener, url) = tls_provider("/api/x").await;
    let connections =
        serve_keep_alive(listener, Some(acceptor), b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong", 100);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let client = HttpClient::trusting(OutboundPolicy::danger_loopback(), roots).unwrap();
    for _ in 0..3 {
        assert_eq!(call(&client, &url).await.unwrap(), (200, b"pong".to_vec()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

/// A provider whose certificate no trusted root vouches for gets no request.
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
    assert!(matches!(call(&client(), &url).await, Err(HttpError::Unreachable(_))));
    let server_side = served.await.unwrap();
    assert!(server_side.is_err(), "the handshake must fail before any request: {server_side:?}");
}

/// A provider that refuses an upload before reading it: its answer is the call's.
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
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let chunks = (0..256).map(|_| Ok(Bytes::from(vec![b'x'; 64 << 10])));
    let body = ProxyBody::from_stream(futures_util::stream::iter(chunks), None);
    let answer =
        client().send(Method::PUT, url.parse().unwrap(), HeaderMap::new(), body, TIMEOUT).await.unwrap();
    assert_eq!(answer.status, 413);
    assert_eq!(answer.read_to_end(100).await.unwrap(), &b"too much"[..]);
}

#[tokio::test]
async fn a_whole_answer_past_the_limit_is_refused() {
    let (url, _) = peer(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789").await;
    let fetched =
        client().fetch(Method::GET, url.parse().unwrap(), HeaderMap::new(), Bytes::new(), TIMEOUT, 4).await;
    assert!(matches!(fetched, Err(HttpError::TooLarge(4))), "{:?}", fetched.err());
}

/// A HEAD's answer names a length it does not send: the length stays a header.
#[tokio::test]
async fn a_head_answer_keeps_its_declared_length_as_a_header() {
    let (url, _) = peer(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n").await;
    let answer = send(&client(), Method::HEAD, &url, ProxyBody::empty()).await.unwrap();
    assert_eq!((answer.status, answer.length), (200, None));
    assert_eq!(answer.headers.get("content-length").unwrap(), "11");
    assert!(answer.read_to_end(100).await.unwrap().is_empty());
}

/// A provider's head far past the cap (hyper checks it between reads, so a
/// little more may pass in one read) fails the call instead of growing a buffer.
#[tokio::test]
async fn an_answer_head_past_its_cap_fails_the_call() {
    let huge: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\nx-padding: {}\r\ncontent-length: 0\r\n\r\n", "a".repeat(1 << 20))
            .into_bytes()
            .into_boxed_slice(),
    );
    let (url, _) = peer(huge).await;
    let refused = send(&client(), Method::GET, &url, ProxyBody::empty()).await;
    assert!(matches!(refused, Err(HttpError::BrokenOff(_))), "{:?}", refused.err());
}

/// An idle connection to an origin no call comes to again is closed by the sweep
/// once its time is up, not kept for as long as the server runs.
#[tokio::test(start_paused = true)]
async fn the_sweep_closes_connections_left_idle_too_long() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/x", listener.local_addr().unwrap());
    let (closed, seen_closed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = [0; 4096];
        let _ = stream.read(&mut received).await.unwrap();
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        // Ends when the client closes the connection.
        let _ = closed.send(stream.read(&mut received).await.unwrap());
    });
    let client = client();
    let answer = send(&client, Method::GET, &url, ProxyBody::empty()).await.unwrap();
    assert!(answer.read_to_end(10).await.unwrap().is_empty());
    client.sweep_idle();
    tokio::time::advance(Duration::from_secs(61)).await;
    client.sweep_idle();
    let read = tokio::time::timeout(Duration::from_secs(5), seen_closed).await.unwrap().unwrap();
    assert_eq!(read, 0, "the peer saw its connection closed");
}
