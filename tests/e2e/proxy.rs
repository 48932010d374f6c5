//! The proxy route end to end, against a provider API in Node
//! (`tests/node/upstream.mjs`): method, query and body go through, bodies stream
//! both ways, sizes are capped with a 413, the provider's length is kept, and a
//! provider that breaks off is never passed on as a complete answer.

use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::{World, browser_consent, enter_code, world};
use crate::peers::{NodePeer, node_peer};

const MAX_PROXY_BODY: usize = 10 << 20;

/// `user_123` connected to the mock provider, whose API then moves to a Node
/// upstream (the same OAuth client and connection). Returns the upstream's base.
pub(crate) async fn connected_to_node_upstream(w: &World) -> (NodePeer, String) {
    let headers = w.app_headers();
    let created = w.device_session(&headers).await;
    let code = created.json()["deviceAuthCode"].as_str().unwrap().to_owned();
    let (session_id, cookie) = enter_code(&w.client, &code).await;
    browser_consent(&w.client, &w.server.base_url, &session_id, Some(&cookie)).await;
    let status = w.client.get(&format!("/v1/sessions/{session_id}?wait=5"), &headers).await;
    assert_eq!(status.json()["status"], "completed", "{}", status.text);
    let port = crate::support::free_port();
    let (upstream, _) = node_peer("upstream.mjs", &[&port.to_string()]).await;
    let moved = w.put_mock_integration(&format!("http://localhost:{port}/api")).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    (upstream, format!("{}/v1/proxy/mock", w.server.base_url))
}

/// What the upstream's `/echo` saw of a request.
async fn echo(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends a raw request head and `body_chunks` on a fresh connection (the writes run
/// beside the read, so a server that stops reading cannot stall the test) and
/// answers the status line of the response.
async fn raw_status(base: &str, head: String, body_chunks: Vec<Vec<u8>>) -> String {
    let address = base.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        for chunk in body_chunks {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        writer
    });
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        while !response.windows(2).any(|w| w == b"\r\n") {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read).await.expect("an answer in time");
    writing.abort();
    String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_streams_both_ways_keeps_method_query_and_body_and_caps_sizes() {
    let w = world().await;
    let (_upstream, base) = connected_to_node_upstream(&w).await;
    let http = reqwest::Client::new();
    let identity = |request: reqwest::RequestBuilder| {
        w.app_headers().into_iter().fold(request, |request, (name, value)| request.header(name, value))
    };

    // Method, path, query, the caller's own headers and body go through; the
    // caller's credentials stay behind and the vaulted token goes in their place.
    let body = vec![7u8; 1024];
    let echoed = echo(
        identity(http.post(format!("{base}/echo?x=1&y=a%20b")))
            .header("authorization", "Bearer the-apps-own-credential")
            .header("x-custom", "kept")
            .body(body.clone()),
    )
    .await;
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["url"], "/api/echo?x=1&y=a%20b");
    assert_eq!(echoed["headers"]["x-custom"], "kept");
    let token = echoed["headers"]["authorization"].as_str().unwrap();
    assert!(token.starts_with("Bearer ") && !token.contains("the-apps-own-credential"), "{token}");
    assert!(echoed["headers"]["securix-api-key"].is_null(), "{echoed}");
    assert_eq!(echoed["bodySha256"], sha256_hex(&body));

    // A GET without a body goes out without framing; headers the caller's
    // `Connection` names are this hop's and stay behind.
    let echoed = echo(
        identity(http.get(format!("{base}/echo")))
            .header("connection", "keep-alive, x-hop")
            .header("x-hop", "for this hop only")
            .header("x-custom", "kept"),
    )
    .await;
    assert_eq!(echoed["method"], "GET");
    for unframed in ["transfer-encoding", "content-length", "x-hop"] {
        assert!(echoed["headers"][unframed].is_null(), "{unframed}: {echoed}");
    }
    assert_eq!(echoed["headers"]["x-custom"], "kept");

    // A small declared body that comes in pieces, a pause between each: read whole
    // before the call, in order.
    let pieces: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 12 << 10]).collect();
    let whole = pieces.concat();
    let paused = futures_util::stream::iter(pieces).then(|piece| async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<_, std::io::Error>(piece)
    });
    let echoed = echo(
        identity(http.post(format!("{base}/echo")))
            .header("content-length", whole.len())
            .body(reqwest::Body::wrap_stream(paused)),
    )
    .await;
    assert_eq!(echoed["bodyLength"].as_u64(), Some(whole.len() as u64));
    assert_eq!(echoed["bodySha256"], sha256_hex(&whole));

    // Large bodies both ways: a declared 3 MiB upload, a chunked 4 MiB upload
    // (relayed as it comes), and a chunked 5 MB download.
    let upload: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let echoed = echo(identity(http.put(format!("{base}/echo"))).body(upload.clone())).await;
    assert_eq!((echoed["method"].as_str(), echoed["bodyLength"].as_u64()), (Some("PUT"), Some(3 << 20)));
    assert_eq!(echoed["bodySha256"], sha256_hex(&upload));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..64).map(|i| Ok(vec![i as u8; 64 << 10])).collect();
    let whole: Vec<u8> = chunks.iter().flat_map(|chunk| chunk.as_ref().unwrap().clone()).collect();
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let echoed = echo(identity(http.patch(format!("{base}/echo"))).body(streamed)).await;
    assert_eq!(echoed["bodyLength"].as_u64(), Some(4 << 20));
    assert_eq!(echoed["bodySha256"], sha256_hex(&whole));
    let download = identity(http.get(format!("{base}/big?bytes=5000000"))).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().len(), 5_000_000);

    // The provider's declared length comes back, for a GET and for a HEAD.
    let sized = identity(http.get(format!("{base}/sized"))).send().await.unwrap();
    assert_eq!(sized.content_length(), Some(11), "{:?}", sized.headers());
    assert_eq!(sized.text().await.unwrap(), "hello world");
    let head = identity(http.head(format!("{base}/sized"))).send().await.unwrap();
    assert_eq!(
        (head.status().as_u16(), head.headers().get("content-length")),
        (200, Some(&"11".parse().unwrap())),
        "{:?}",
        head.headers()
    );
    assert!(head.bytes().await.unwrap().is_empty());
    // A 304 names a length it does not send: the connection stays good for the next call.
    let keepalive = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    for _ in 0..2 {
        let unchanged = identity(keepalive.get(format!("{base}/unchanged"))).send().await.unwrap();
        assert_eq!(unchanged.status(), 304);
        assert!(unchanged.bytes().await.unwrap().is_empty());
    }
    let after = identity(keepalive.get(format!("{base}/sized"))).send().await.unwrap();
    assert_eq!(after.text().await.unwrap(), "hello world");

    // A provider that breaks off mid-answer: the caller sees a broken answer,
    // never a short one that looks complete.
    let truncated = identity(http.get(format!("{base}/truncated"))).send().await;
    let whole_answer = match truncated {
        Ok(answer) => answer.bytes().await.map(|bytes| bytes.len()),
        Err(error) => Err(error),
    };
    assert!(whole_answer.is_err(), "a truncated answer must fail: {whole_answer:?}");

    // Over the cap: declared, or counted as a chunked body arrives → 413.
    let identity_lines: String =
        w.app_headers().iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let declared = raw_status(
        &base,
        format!(
            "POST /v1/proxy/mock/echo HTTP/1.1\r\nhost: x\r\n{identity_lines}content-length: {}\r\n\r\n",
            MAX_PROXY_BODY + 1
        ),
        vec![vec![b'x'; 1024]],
    )
    .await;
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    let chunk = [format!("{:x}\r\n", 1 << 20).into_bytes(), vec![b'x'; 1 << 20], b"\r\n".to_vec()].concat();
    let counted = raw_status(
        &base,
        format!("POST /v1/proxy/mock/echo HTTP/1.1\r\nhost: x\r\n{identity_lines}transfer-encoding: chunked\r\n\r\n"),
        vec![chunk; 12],
    )
    .await;
    assert!(counted.starts_with("HTTP/1.1 413"), "{counted}");

    assert_eq!(w.client.get("/healthz", &[]).await.status, 200, "still healthy");
}

/// A provider's "slow down" (429 or 503) is waited out and the call sent again —
/// only an idempotent one with its body at hand, at most `MAX_RETRIES` times, never
/// for longer than the provider's own patience allows — and the audit record of the
/// call counts its retries and keeps the provider's last answer status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_call_the_provider_slows_down_is_retried_and_audited() {
    let w = world().await;
    let (_upstream, base) = connected_to_node_upstream(&w).await;
    let headers = w.app_headers();
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, query: &str| {
        let mut request = client.request(method, format!("{base}/flaky?{query}"));
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        request
    };
    // The retries and answer status of the `calls`th proxied call, once its record is committed.
    let world = &w;
    let newest = |calls: usize| async move {
        let w = world;
        for _ in 0..100 {
            let audit = w.client.get("/v1/entities/user_123/audit?limit=100", &w.app_headers()).await.json();
            if audit.as_array().unwrap().len() == calls {
                return (audit[0]["retries"].as_u64().unwrap(), audit[0]["status"].as_u64().unwrap());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no audit record of call {calls}");
    };

    let waited = call(reqwest::Method::GET, "key=a&times=2&status=429&after=0").send().await.unwrap();
    assert_eq!(waited.status(), 200);
    assert_eq!(waited.json::<serde_json::Value>().await.unwrap()["attempt"], 3);
    assert_eq!(newest(1).await, (2, 200));

    let put = call(reqwest::Method::PUT, "key=b&times=1&status=503").body("same again").send().await.unwrap();
    assert_eq!(put.status(), 200, "a 503 without Retry-After: backoff, then the body sent again");
    assert_eq!(newest(2).await, (1, 200));

    let post =
        call(reqwest::Method::POST, "key=c&times=1&status=429&after=0").body("{}").send().await.unwrap();
    assert_eq!(post.status(), 429, "a POST is never sent twice");
    assert_eq!(newest(3).await, (0, 429), "the provider's answer is recorded");

    let patient = call(reqwest::Method::GET, "key=d&times=9&status=429&after=0").send().await.unwrap();
    assert_eq!(patient.status(), 429, "retries are bounded");
    assert_eq!(newest(4).await, (3, 429));

    let later = call(reqwest::Method::GET, "key=e&times=1&status=429&after=3600").send().await.unwrap();
    assert_eq!(later.status(), 429, "an hour's wait goes back to the caller at once");
    assert_eq!(later.headers()["retry-after"], "3600");
    assert_eq!(newest(5).await, (0, 429));
    let served = call(reqwest::Method::GET, "key=e&times=1&status=429&after=3600").send().await.unwrap();
    assert_eq!(served.json::<serde_json::Value>().await.unwrap()["attempt"], 2, "the 429 was sent once");
}

/// A request refused before its body is read (a wrong API key, a JSON body over
/// its limit) gets its answer, and the body the client goes on sending is read
/// away (lingering close, as nginx does) rather than met with a reset that could
/// take the answer with it; then the connection closes cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_is_read_away_before_its_connection_closes() {
    let w = world().await;
    let address = w.server.base_url.trim_start_matches("http://").to_owned();
    let cases = [("/v1/proxy/mock/echo", "sxk_wrong", "401"), ("/v1/sessions", w.api_key.as_str(), "413")];
    for (path, key, refusal) in cases {
        let size = 1 << 20;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nsecurix-api-key: {key}\r\nsecurix-agent-id: cli\r\n\
             securix-entity-id: user_123\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
        );
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        // The refusal comes before the body is sent; then the body goes, unrefused.
        let first = read_answers(&mut stream, 1).await;
        assert!(first.starts_with(&format!("HTTP/1.1 {refusal}")), "{path}: {first}");
        let sent = stream.write_all(&vec![b' '; size]).await;
        assert!(sent.is_ok(), "{path}: the body was read away: {sent:?}");
        stream.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
        assert!(matches!(closed, Ok(Ok(_))), "{path}: closed cleanly, not reset: {closed:?}");
    }
}

/// What arrives until `count` answers have begun and the last one's body is in
/// (or the connection ends, or 10 s pass).
async fn read_answers(stream: &mut tokio::net::TcpStream, count: usize) -> String {
    let mut answers = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&answers);
            if text.matches("HTTP/1.1 ").count() >= count && (text.ends_with('}') || text.ends_with("ok\n")) {
                break;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answers.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&answers).into_owned()
}
