//! The Rust client crate (`securix-client`) against the real server: the operations
//! the CLI and Rust backends rely on.

use reqwest::Method;
use securix_client::{Client, ClientError, NewSession};

use crate::api::{enter_code, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_runs_a_device_flow_then_proxies_and_disconnects() {
    let w = world().await;
    let securix = Client::new(&w.server.base_url).unwrap().api_key(&w.api_key).agent("cli");

    let created = securix.create_session(&NewSession::device("rust_user", &["mock"])).await.unwrap();
    assert_eq!(created.flow, "device");
    let code = created.device_auth_code.clone().unwrap();
    assert_eq!(securix.session(&created.session_id, None).await.unwrap().status, "pending");
    let (session_id, cookie) = enter_code(&w.client, &code).await;
    assert_eq!(session_id, created.session_id);
    w.consent(&session_id, Some(&cookie)).await;
    let status = securix.session(&session_id, Some(5)).await.unwrap();
    assert!(status.is_final() && status.status == "completed", "{status:?}");

    let connections = securix.connections("rust_user").await.unwrap();
    assert_eq!(connections.len(), 1);
    assert_eq!((connections[0].integration.as_str(), connections[0].status.as_str()), ("mock", "active"));

    let userinfo = securix.proxy(Method::GET, "mock", "/userinfo", "rust_user", None, None).await.unwrap();
    assert_eq!(userinfo.status(), 200);
    let refused = securix.proxy(Method::GET, "mock", "userinfo", "nobody", None, None).await.unwrap_err();
    assert!(matches!(refused, ClientError::Api { status: 404, .. }), "{refused:?}");

    assert!(securix.webhook_keys().await.unwrap().iter().all(|k| k.starts_with("whpk_")));
    securix.delete_connection("rust_user", &connections[0].connection_id).await.unwrap();
    assert!(securix.connections("rust_user").await.unwrap().is_empty());
    // An id with characters that mean something in a path stays one segment, which the
    // server then refuses as an id (not a 404 for a path it never heard of).
    let odd = securix.connections("a/b?c").await.unwrap_err();
    assert!(matches!(odd, ClientError::Api { status: 400, .. }), "{odd:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_reports_refusals_with_their_problem_type() {
    let w = world().await;
    let securix = Client::new(&w.server.base_url).unwrap().api_key(&w.api_key).agent("cli");
    let session = NewSession::popup("u", &["mock"], &"A".repeat(43), "https://app.example");
    let created = securix.create_session(&session).await.unwrap();
    let wrong = securix.confirm(&created.session_id, "not-the-sxc").await.unwrap_err();
    assert!(matches!(wrong, ClientError::Api { status: 403 | 409, .. }), "{wrong:?}");
    assert!(!wrong.to_string().contains(&w.api_key));

    let stranger = Client::new(&w.server.base_url).unwrap().api_key("sxk_unknown").agent("cli");
    let denied = stranger.connections("u").await.unwrap_err();
    assert!(matches!(denied, ClientError::Api { status: 401, .. }), "{denied:?}");
}
