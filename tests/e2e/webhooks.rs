//! Webhooks end to end: a receiver that verifies with Node's ed25519 (not ours)
//! gets the events of a device flow, signed and thin; changed bytes do not verify.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{browser_consent, enter_code, world};
use crate::peers::{Lines, NodePeer, node_peer};

/// The Node receiver (tests/node/receiver.mjs) on `port`, and the lines it prints.
pub async fn start_receiver(port: u16, public_key: &str) -> (NodePeer, Lines) {
    node_peer("receiver.mjs", &[&port.to_string(), public_key]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_verify_with_another_ed25519_implementation() {
    let w = world().await;
    let headers = w.app_headers();
    let keys = w.client.get("/v1/webhooks/keys", &headers).await.json();
    let public_key = keys["keys"][0]["publicKey"].as_str().unwrap().to_owned();
    assert!(public_key.starts_with("whpk_"), "{keys}");

    let port = crate::support::free_port();
    let (receiver, lines) = start_receiver(port, &public_key).await;

    let endpoint = w.add_webhook_endpoint(&format!("http://127.0.0.1:{port}/hooks")).await;
    assert_eq!(endpoint.status, 201, "{}", endpoint.text);
    let private = w.add_webhook_endpoint("https://10.1.2.3/hooks").await;
    assert_eq!(private.status, 400, "private addresses are refused: {}", private.text);

    let created = w.device_session(&headers).await;
    let code = created.json()["deviceAuthCode"].as_str().unwrap().to_owned();
    let (session_id, cookie) = enter_code(&w.client, &code).await;
    browser_consent(&w.client, &w.server.base_url, &session_id, Some(&cookie)).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let deliveries = loop {
        let got: Vec<Value> =
            lines.lock().unwrap().iter().filter(|l| l.get("id").is_some()).cloned().collect();
        if got.len() >= 2 || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Redelivery of one event: the same webhook-id arrives again.
    let first_id = deliveries[0]["id"].as_str().unwrap().to_owned();
    let queued =
        w.client.json(Method::POST, "/v1/events/redeliver", &headers, json!({"eventId": first_id})).await;
    assert_eq!(queued.json()["queued"], 1, "{}", queued.text);
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.lock().unwrap().iter().filter(|l| l["id"] == first_id.as_str()).count() < 2 {
        assert!(Instant::now() < deadline, "the redelivery did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unknown = w
        .client
        .json(
            Method::POST,
            "/v1/events/redeliver",
            &headers,
            json!({"eventId": "evt_aaaaaaaaaaaaaaaaaaaaaaaaaa"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    drop(receiver);
    let types: Vec<&str> = deliveries.iter().filter_map(|d| d["type"].as_str()).collect();
    assert!(types.contains(&"connection.created") && types.contains(&"session.completed"), "{deliveries:?}");
    for delivery in &deliveries {
        assert_eq!(delivery["valid"], true, "{delivery}");
        assert_eq!(delivery["tamperedIdValid"], false);
        assert_eq!(delivery["tamperedTimestampValid"], false);
        let body = delivery["body"].as_str().unwrap();
        if body.contains("connection") {
            assert_eq!(delivery["tamperedBodyValid"], false);
        }
        assert!(!body.contains("access_token") && !body.contains("refresh"), "thin payloads: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_webhooks_survive_a_sigkill() {
    const EVENTS: usize = 1000;
    let w = world().await;
    let headers = w.app_headers();
    let public_key = w.client.get("/v1/webhooks/keys", &headers).await.json()["keys"][0]["publicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    // The receiver is down for now: every event stays queued.
    let port = crate::support::free_port();
    let endpoint = w.add_webhook_endpoint(&format!("http://127.0.0.1:{port}/hooks")).await;
    assert_eq!(endpoint.status, 201);
    // 1,000 sessions that expire within a second: 1,000 session.expired events.
    let mut tasks = Vec::new();
    for chunk in 0..20 {
        let (client, api_key) = (w.client.clone(), w.api_key.clone());
        tasks.push(tokio::spawn(async move {
            let headers = [("securix-api-key", api_key.as_str()), ("securix-agent-id", "cli")];
            for n in 0..EVENTS / 20 {
                let body = json!({"entityId": format!("user_{chunk}_{n}"), "flow": "device", "providers": {"mock": {}}, "expiresIn": 1});
                assert_eq!(client.json(Method::POST, "/v1/sessions", &headers, body).await.status, 201);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = w.client.get("/v1/events?limit=1000", &headers).await.json();
        let expired =
            events.as_array().map_or(0, |e| e.iter().filter(|e| e["type"] == "session.expired").count());
        if expired >= EVENTS {
            break;
        }
        assert!(Instant::now() < deadline, "only {expired} sessions expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // SIGKILL with every event still owed, then the receiver comes up and the server restarts.
    let client = w.client.clone();
    let data_dir = w.server.stop();
    let (receiver, lines) = start_receiver(port, &public_key).await;
    let server = crate::support::Server::start_in(data_dir, crate::api::WORLD_ENV).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let unique = loop {
        let ids: std::collections::HashSet<String> =
            lines.lock().unwrap().iter().filter_map(|l| l["id"].as_str().map(str::to_owned)).collect();
        if ids.len() >= EVENTS || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(receiver);
    drop(server);
    drop(client);
    assert_eq!(unique.len(), EVENTS, "every queued event was delivered after the restart");
    let deliveries = lines.lock().unwrap().clone();
    assert!(deliveries.iter().filter(|l| l.get("id").is_some()).all(|l| l["valid"] == true));
}
