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

/// An agent with only a token, through the Rust client: the call for a user not
/// yet connected is a typed `AuthorizationRequired` with the link and code; the
/// client waits for the user, and the retry goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_gets_authorization_on_demand_as_a_typed_error() {
    let w = world().await;
    let (_upstream, _) = crate::proxy::connected_to_node_upstream(&w).await;
    let grant = serde_json::json!({"integrations": {"mock": {"paths": ["/echo"]}}, "connectOnDemand": true});
    let path = format!("/v1/admin/projects/{}/agents/helper", w.project_id);
    let admin = [("securix-admin-token", crate::api::ADMIN_TOKEN)];
    assert_eq!(w.client.json(Method::PUT, &path, &admin, grant).await.status, 200);
    let app = Client::new(&w.server.base_url).unwrap().api_key(&w.api_key);
    let minted = app.mint_agent_token("helper", "lin", None).await.unwrap();
    assert!(!format!("{minted:?}").contains(&minted.token), "Debug never shows the token");
    let agent = Client::new(&w.server.base_url).unwrap().agent_token(&minted.token);

    let call = || agent.proxy(Method::GET, "mock", "echo", "", None, None);
    let Err(ClientError::AuthorizationRequired(required)) = call().await else {
        panic!("no authorization asked")
    };
    let refused = agent.proxy(Method::GET, "mock", "admin", "", None, None).await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Api { status: 403, refused: Some(what), .. } if what == "path"),
        "{refused:?}"
    );

    let waiting = {
        let (agent, required) = (agent.clone(), required.clone());
        tokio::spawn(async move {
            agent.wait_for_authorization(&required, std::time::Duration::from_secs(30)).await
        })
    };
    let (session_id, cookie) = enter_code(&w.client, &required.device_auth_code).await;
    crate::api::browser_consent(&w.client, &w.server.base_url, &session_id, Some(&cookie)).await;
    assert_eq!(waiting.await.unwrap().unwrap().status, "completed");
    assert_eq!(call().await.unwrap().status(), 200);
}
