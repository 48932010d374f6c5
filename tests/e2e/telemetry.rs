//! OpenTelemetry export: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the server sends its
//! spans (HTTP, store, plugins, actors) as OTLP/HTTP protobuf to a collector.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::api::{ADMIN_TOKEN, Client, WORLD_ENV};
use crate::peers::MockOAuth;
use crate::support::Server;

/// A stand-in OTLP collector: records the path and body of every POST.
async fn collector() -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buffer.len() < end + 4 + length {
                        continue;
                    }
                    let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    let body = buffer[end + 4..end + 4 + length].to_vec();
                    buffer.drain(..end + 4 + length);
                    sink.lock().unwrap().push((path, body));
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_collector() {
    let (endpoint, received) = collector().await;
    let mock = MockOAuth::start().await;
    let mut env = WORLD_ENV.to_vec();
    env.extend([("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")]);
    let server = Server::start(&env).await;
    let client = Client::new(&server.base_url);
    let admin = [("securix-admin-token", ADMIN_TOKEN)];
    let project = client.json(Method::POST, "/v1/admin/projects", &admin, json!({"name": "Traced"})).await;
    let project_id = project.json()["projectId"].as_str().unwrap().to_owned();
    let secret = "otel-test-client-secret-55";
    let integration = client
        .json(
            Method::PUT,
            &format!("/v1/admin/projects/{project_id}/integrations/mock"),
            &admin,
            json!({
                "provider": "oauth2",
                "clientId": "traced",
                "clientSecret": secret,
                "config": {"discoveryUrl": format!("{}/.well-known/openid-configuration", mock.base_url)}
            }),
        )
        .await;
    assert_eq!(integration.status, 200, "{}", integration.text);
    // Every answer carries its request's id, the one its span was exported with.
    let request_id =
        integration.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(request_id.len() == 16 && request_id.bytes().all(|b| b.is_ascii_hexdigit()), "{request_id:?}");

    let wanted = ["http", "store.transaction", "plugin.validate_config", request_id];
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let all: Vec<u8> = received.lock().unwrap().iter().flat_map(|(_, body)| body.clone()).collect();
        let missing: Vec<&&str> = wanted.iter().filter(|name| !contains(&all, name.as_bytes())).collect();
        if missing.is_empty() {
            break all;
        }
        assert!(Instant::now() < deadline, "spans {missing:?} never reached the collector");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(received.lock().unwrap().iter().all(|(path, _)| path == "/v1/traces"));
    assert!(contains(&seen, b"securix"), "the service name");
    assert!(!contains(&seen, secret.as_bytes()), "no secret in a span");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
