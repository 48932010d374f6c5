//! Agents through the real server: grants that hold an agent to methods, paths,
//! scopes and a time; agent tokens in place of the API key; authorization on
//! demand when the user has not connected yet.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN_TOKEN, Answer, World, browser_consent, enter_code, world};

const ADMIN: [(&str, &str); 1] = [("securix-admin-token", ADMIN_TOKEN)];

async fn put_agent(w: &World, agent: &str, grant: Value) -> Answer {
    let path = format!("/v1/admin/projects/{}/agents/{agent}", w.project_id);
    w.client.json(Method::PUT, &path, &ADMIN, grant).await
}

/// The problem's code and, for `agent-not-allowed`, what was refused.
fn refusal(answer: &Answer) -> (u16, String, String) {
    let problem = answer.json();
    let code = problem["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap().to_owned();
    (answer.status.as_u16(), code, problem["refused"].as_str().unwrap_or_default().to_owned())
}

/// An agent may do what its grant lists and nothing else: the integration, the
/// methods, the paths, until it expires; sessions it begins ask for no scope
/// beyond it. Each refusal is `agent-not-allowed` naming what it lacks, and the
/// audit trail names the agent of every call it let through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_is_held_to_its_grant() {
    let w = world().await;
    let (_upstream, api) = crate::credentials::upstream().await;
    let llm = crate::credentials::keyed(&api, json!({"in": "header", "name": "x-api-key"}), "/me");
    assert_eq!(crate::credentials::put(&w, "llm", "api_key", llm).await.status, 200);
    let body = json!({"integration": "llm", "credentials": {"apiKey": "sk-good"}});
    let app = [("securix-api-key", w.api_key.as_str()), ("securix-agent-id", "cli")];
    assert_eq!(w.client.json(Method::POST, "/v1/entities/ada/connections", &app, body).await.status, 201);

    let grant = json!({"integrations": {"llm": {"methods": ["GET"], "paths": ["/v1/**"]}, "mock": {"scopes": ["read"]}}});
    let stored = put_agent(&w, "bot", grant).await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    assert_eq!(stored.json()["integrations"]["llm"]["paths"], json!(["/v1/**"]));
    let bot =
        [("securix-api-key", w.api_key.as_str()), ("securix-agent-id", "bot"), ("securix-entity-id", "ada")];
    let call = |method: Method, path: &'static str| {
        let w = &w;
        async move { w.client.send(method, &format!("/v1/proxy/llm{path}"), &bot, None, None).await }
    };
    let allowed = call(Method::GET, "/v1/echo").await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    assert_eq!(
        refusal(&call(Method::POST, "/v1/echo").await),
        (403, "agent-not-allowed".into(), "method".into())
    );
    assert_eq!(refusal(&call(Method::GET, "/me").await), (403, "agent-not-allowed".into(), "path".into()));
    let mut overridden = bot.to_vec();
    overridden.push(("x-http-method-override", "delete"));
    let smuggled = w.client.get("/v1/proxy/llm/v1/echo", &overridden).await;
    assert_eq!(
        refusal(&smuggled),
        (403, "agent-not-allowed".into(), "method".into()),
        "an override header's method"
    );
    let unlisted = w.client.get("/v1/proxy/other/x", &bot).await;
    assert_eq!(refusal(&unlisted), (403, "agent-not-allowed".into(), "integration".into()));

    // Sessions the agent begins stay within the grant's scopes.
    let session = |scopes: Value| {
        let body = json!({"entityId": "ada", "flow": "device", "providers": {"mock": {"scopes": scopes}}});
        let w = &w;
        async move { w.client.json(Method::POST, "/v1/sessions", &bot[..2], body).await }
    };
    assert_eq!(
        refusal(&session(json!(["read", "write"])).await),
        (403, "agent-not-allowed".into(), "scopes".into())
    );
    assert_eq!(session(json!(["read"])).await.status, 201);

    // A grant that has expired allows nothing, and a new grant replaces the old.
    let expired = json!({"integrations": {"llm": {}}, "expiresAt": "2020-01-01T00:00:00Z"});
    assert_eq!(put_agent(&w, "bot", expired).await.status, 200);
    assert_eq!(
        refusal(&call(Method::GET, "/v1/echo").await),
        (403, "agent-not-allowed".into(), "expired".into())
    );
    assert_eq!(put_agent(&w, "bot", json!({"integrations": {"llm": {}}})).await.status, 200);
    assert_eq!(call(Method::POST, "/v1/echo").await.status, 200, "every method once the grant lists none");

    // Asking users to connect is granted apart: this agent may not.
    let connect = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "connect", "arguments": {"integration": "llm"}}});
    let mut mcp_headers = bot.to_vec();
    mcp_headers.push(("content-type", "application/json"));
    let asked = w
        .client
        .send(Method::POST, "/v1/mcp", &mcp_headers, Some(connect.to_string().into_bytes()), None)
        .await;
    let result = &asked.json()["result"];
    assert_eq!(result["isError"], true, "{}", asked.text);
    assert_eq!(result["structuredContent"]["error"]["refused"], "connect");

    // Malformed grants are refused whole.
    for bad in [
        json!({"integrations": {"llm": {"methods": ["get"]}}}),
        json!({"integrations": {"llm": {"paths": ["v1/**"]}}}),
        json!({"integrations": {"llm": {"verbs": ["GET"]}}}),
        json!({"expiresAt": "tomorrow"}),
    ] {
        assert_eq!(put_agent(&w, "bot", bad.clone()).await.status, 400, "{bad}");
    }

    let audit_path = format!("/v1/admin/projects/{}/audit?agentId=bot", w.project_id);
    let mut audited = Vec::new();
    for _ in 0..100 {
        audited = w.client.get(&audit_path, &ADMIN).await.json()["items"].as_array().unwrap().clone();
        if audited.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(audited.len(), 2, "the calls let through, and only those: {audited:?}");
    assert!(audited.iter().all(|r| r["agentId"] == "bot"));
}

/// An agent holding only an agent token calls for its user; the user is not
/// connected yet, so the call answers `authorization-required` with a device
/// session (the same one while it is pending); once the user consents the same
/// call goes through. A revoked token is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_token_asks_the_user_on_demand_then_calls_for_them() {
    let w = world().await;
    let (_upstream, _) = crate::proxy::connected_to_node_upstream(&w).await;
    let grant = json!({"integrations": {"mock": {"methods": ["GET"]}}, "connectOnDemand": true});
    assert_eq!(put_agent(&w, "assistant", grant).await.status, 200);
    let app = [("securix-api-key", w.api_key.as_str())];
    let mint = |body: Value| {
        let w = &w;
        async move { w.client.json(Method::POST, "/v1/agents/assistant/tokens", &app, body).await }
    };
    let minted = mint(json!({"entityId": "grace", "expiresIn": 600})).await;
    assert_eq!(minted.status, 201, "{}", minted.text);
    let token = minted.json()["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sxa_"));
    for bad in
        [json!({"entityId": "grace", "expiresIn": 10}), json!({"entityId": "grace", "expiresIn": 90_000})]
    {
        assert_eq!(mint(bad).await.status, 400);
    }
    let unknown =
        w.client.json(Method::POST, "/v1/agents/nobody/tokens", &app, json!({"entityId": "grace"})).await;
    assert_eq!(unknown.status, 404);
    let listed = w.client.get("/v1/agents/assistant/tokens", &app).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json()["items"][0]["entityId"], "grace");
    assert_eq!(listed.json()["items"][0]["tokenId"], minted.json()["tokenId"]);
    assert!(!listed.text.contains(&token), "a token is shown once, at its minting");

    let bearer = format!("Bearer {token}");
    let as_agent = [("authorization", bearer.as_str())];
    // Calls made at once before the user has connected share one session.
    let at_once = (0..6).map(|_| w.client.get("/v1/proxy/mock/echo", &as_agent));
    let answers = futures_util::future::join_all(at_once).await;
    let sessions: std::collections::BTreeSet<String> =
        answers.iter().map(|a| a.json()["sessionId"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let first = w.client.get("/v1/proxy/mock/echo", &as_agent).await;
    assert_eq!(refusal(&first).1, "authorization-required", "{}", first.text);
    assert_eq!(first.status, 403);
    let asked = first.json();
    assert!(asked["authUrl"].as_str().unwrap().ends_with("/device"), "{asked}");
    let again = w.client.get("/v1/proxy/mock/echo", &as_agent).await.json();
    assert_eq!(again["sessionId"], asked["sessionId"], "one session while it is pending");
    assert_eq!(again["deviceAuthCode"], asked["deviceAuthCode"]);
    assert_eq!(
        refusal(&w.client.send(Method::POST, "/v1/proxy/mock/echo", &as_agent, None, None).await).2,
        "method"
    );

    // The user types the code and consents; the agent's retry goes through as them.
    let (session_id, cookie) = enter_code(&w.client, asked["deviceAuthCode"].as_str().unwrap()).await;
    assert_eq!(session_id, asked["sessionId"].as_str().unwrap());
    browser_consent(&w.client, &w.server.base_url, &session_id, Some(&cookie)).await;
    let through = w.client.get("/v1/proxy/mock/echo", &as_agent).await;
    assert_eq!(through.status, 200, "{}", through.text);
    let connections = w
        .client
        .get(
            "/v1/entities/grace/connections",
            &[("securix-api-key", w.api_key.as_str()), ("securix-agent-id", "cli")],
        )
        .await;
    assert_eq!(connections.json().as_array().unwrap().len(), 1, "grace is connected: {}", connections.text);

    // A token ends with the API key that minted it.
    let project = format!("/v1/admin/projects/{}/api-keys", w.project_id);
    let second = w.client.json(Method::POST, &project, &ADMIN, json!({"name": "minter"})).await.json();
    let minter = [("securix-api-key", second["apiKey"].as_str().unwrap())];
    let other = w
        .client
        .json(Method::POST, "/v1/agents/assistant/tokens", &minter, json!({"entityId": "grace"}))
        .await;
    let other_bearer = format!("Bearer {}", other.json()["token"].as_str().unwrap());
    let as_other = [("authorization", other_bearer.as_str())];
    assert_eq!(w.client.get("/v1/proxy/mock/echo", &as_other).await.status, 200);
    let key_path = format!("{project}/{}", second["apiKeyId"].as_str().unwrap());
    assert_eq!(w.client.send(Method::DELETE, &key_path, &ADMIN, None, None).await.status, 204);
    assert_eq!(w.client.get("/v1/proxy/mock/echo", &as_other).await.status, 401, "its key is revoked");

    // Revoked: refused at once, as is a token that never was, or none at all.
    let token_id = minted.json()["tokenId"].as_str().unwrap().to_owned();
    let revoke_path = format!("/v1/agents/assistant/tokens/{token_id}");
    assert_eq!(w.client.send(Method::DELETE, &revoke_path, &app, None, None).await.status, 204);
    assert_eq!(w.client.get("/v1/proxy/mock/echo", &as_agent).await.status, 401);
    assert_eq!(w.client.send(Method::DELETE, &revoke_path, &app, None, None).await.status, 404);
    let forged = format!("Bearer sxa_{}", "a".repeat(38));
    assert_eq!(w.client.get("/v1/proxy/mock/echo", &[("authorization", forged.as_str())]).await.status, 401);
    assert_eq!(w.client.get("/v1/proxy/mock/echo", &[]).await.status, 401);
}
