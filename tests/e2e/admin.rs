//! The admin API reads what it writes: every resource listed a page at a time,
//! read, changed and deleted, through the real server, never a secret.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN_TOKEN, CLIENT_SECRET, World, world};

const ADMIN: [(&str, &str); 1] = [("securix-admin-token", ADMIN_TOKEN)];

async fn admin_get(w: &World, path: &str) -> crate::api::Answer {
    w.client.get(path, &ADMIN).await
}

/// Every item of a listing, page by page (`limit` each), running `meanwhile`
/// after the first page; the ids seen in order.
async fn all_pages(
    w: &World,
    path: &str,
    id: &str,
    limit: usize,
    meanwhile: impl AsyncFnOnce(),
) -> Vec<String> {
    let (mut seen, mut cursor, mut meanwhile) = (Vec::new(), None::<String>, Some(meanwhile));
    loop {
        let url = match &cursor {
            Some(cursor) => format!("{path}?limit={limit}&cursor={cursor}"),
            None => format!("{path}?limit={limit}"),
        };
        let page = admin_get(w, &url).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let page = page.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{page}");
        seen.extend(items.iter().map(|item| item[id].as_str().unwrap().to_owned()));
        if let Some(meanwhile) = meanwhile.take() {
            meanwhile().await;
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(page["nextCursor"].is_null(), "the last page says so: {page}");
                return seen;
            }
        }
    }
}

async fn create_project(w: &World, name: &str) -> String {
    let created = w.client.json(Method::POST, "/v1/admin/projects", &ADMIN, json!({"name": name})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json()["projectId"].as_str().unwrap().to_owned()
}

/// Projects page by page while others are created: no page repeats or skips one
/// that existed before the listing began. A project reads, renames and lists its
/// origins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_list_a_page_at_a_time_while_others_are_created() {
    let w = world().await;
    let mut before = BTreeSet::from([w.project_id.clone()]);
    for i in 0..6 {
        before.insert(create_project(&w, &format!("Project {i}")).await);
    }
    let seen = all_pages(&w, "/v1/admin/projects", "projectId", 2, async || {
        for i in 0..3 {
            create_project(&w, &format!("Meanwhile {i}")).await;
        }
    })
    .await;
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no page repeats a project: {seen:?}");
    assert!(before.is_subset(&unique), "no page skips one that was there: {before:?} {seen:?}");

    let path = format!("/v1/admin/projects/{}", w.project_id);
    let read = admin_get(&w, &path).await.json();
    assert_eq!(read["name"], "Acme Corp");
    assert_eq!(read["origins"], json!(["https://app.example"]));
    let renamed = w.client.json(Method::PATCH, &path, &ADMIN, json!({"name": "Acme Inc"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(admin_get(&w, &path).await.json()["name"], "Acme Inc");
    let empty = w.client.json(Method::PATCH, &path, &ADMIN, json!({"name": " "})).await;
    assert_eq!(empty.status, 400, "{}", empty.text);
    let origins = admin_get(&w, &format!("{path}/origins")).await.json();
    assert_eq!(origins, json!({"origins": ["https://app.example"]}));

    let unknown = admin_get(&w, "/v1/admin/projects/prj_nosuchproject0000000000000").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let keys_of_unknown = admin_get(&w, "/v1/admin/projects/prj_nosuchproject0000000000000/api-keys").await;
    assert_eq!(keys_of_unknown.status, 404, "a wrong project is not an empty listing");
    for bad in ["?cursor=bm90LW91cnM", "?limit=0", "?limit=501"] {
        let refused = admin_get(&w, &format!("/v1/admin/projects{bad}")).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text);
    }
    // A cursor of one listing is refused by another.
    let page = admin_get(&w, "/v1/admin/projects?limit=1").await.json();
    let cursor = page["nextCursor"].as_str().unwrap();
    let foreign = admin_get(&w, &format!("{path}/agents?cursor={cursor}")).await;
    assert_eq!(foreign.status, 400, "{}", foreign.text);
    let anonymous = w.client.get("/v1/admin/projects", &[]).await;
    assert_eq!(anonymous.status, 401);
}

/// Keys, agents, integrations and webhook endpoints list, read and delete; no
/// listing or read ever shows an API key or a client secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_of_a_project_lists_reads_and_deletes_without_a_secret() {
    let w = world().await;
    let project = format!("/v1/admin/projects/{}", w.project_id);
    let second =
        w.client.json(Method::POST, &format!("{project}/api-keys"), &ADMIN, json!({"name": "ci"})).await;
    let second_key = second.json()["apiKey"].as_str().unwrap().to_owned();
    let keys = admin_get(&w, &format!("{project}/api-keys")).await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    let listed: Vec<Value> = keys.json()["items"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    let names: BTreeSet<&str> = listed.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["backend", "ci"]));
    assert!(listed.iter().all(|k| k["prefix"].as_str().unwrap().starts_with("sxk_")));
    for secret in [w.api_key.as_str(), second_key.as_str()] {
        assert!(!keys.text.contains(secret), "a key is shown once, at its creation");
    }
    let id = listed[0]["apiKeyId"].as_str().unwrap();
    assert_eq!(admin_get(&w, &format!("{project}/api-keys/{id}")).await.json()["apiKeyId"], id);
    // A key's last use is listed once it authenticates a call.
    let ci = listed.iter().find(|k| k["name"] == "ci").unwrap();
    let ci_path = format!("{project}/api-keys/{}", ci["apiKeyId"].as_str().unwrap());
    assert!(ci["lastUsedAt"].is_null(), "never used yet: {ci}");
    let used =
        w.client.send(Method::GET, "/v1/integrations", &[("securix-api-key", &second_key)], None, None).await;
    assert_eq!(used.status, 200);
    let mut last_used = Value::Null;
    for _ in 0..100 {
        last_used = admin_get(&w, &ci_path).await.json()["lastUsedAt"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(last_used.as_str().unwrap() >= ci["createdAt"].as_str().unwrap(), "{last_used}");

    let agents = admin_get(&w, &format!("{project}/agents")).await.json();
    assert_eq!(agents["items"][0]["agentId"], "cli");
    assert!(agents["items"][0]["integrations"].is_null(), "every integration: {agents}");
    let extra =
        w.client.json(Method::POST, &format!("{project}/agents"), &ADMIN, json!({"agentId": "bot"})).await;
    assert_eq!(extra.status, 201);
    assert_eq!(
        w.client.send(Method::DELETE, &format!("{project}/agents/bot"), &ADMIN, None, None).await.status,
        204
    );
    assert_eq!(admin_get(&w, &format!("{project}/agents/bot")).await.status, 404);
    let bot =
        [("securix-api-key", w.api_key.as_str()), ("securix-agent-id", "bot"), ("securix-entity-id", "u")];
    let refused = w.client.get("/v1/proxy/mock/userinfo", &bot).await;
    assert!(refused.status.is_client_error(), "a deleted agent's calls are refused: {}", refused.status);

    let integrations = admin_get(&w, &format!("{project}/integrations")).await;
    assert_eq!(integrations.json()["items"][0]["integration"], "mock");
    let mock = admin_get(&w, &format!("{project}/integrations/mock")).await;
    assert_eq!(mock.json()["clientId"], "securix-e2e", "{}", mock.text);
    for text in [&integrations.text, &mock.text] {
        assert!(!text.contains(CLIENT_SECRET), "never the client secret");
    }

    let endpoint = json!({"url": "https://hooks.example.com/securix", "events": ["connection.created"]});
    let created =
        w.client.json(Method::POST, &format!("{project}/webhook-endpoints"), &ADMIN, endpoint).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let endpoint_id = created.json()["endpointId"].as_str().unwrap().to_owned();
    let listed = admin_get(&w, &format!("{project}/webhook-endpoints")).await.json();
    assert_eq!(listed["items"][0]["endpointId"], endpoint_id.as_str());
    assert_eq!(listed["items"][0]["events"], json!(["connection.created"]));
    let one = format!("{project}/webhook-endpoints/{endpoint_id}");
    assert_eq!(admin_get(&w, &one).await.json()["url"], "https://hooks.example.com/securix");
    assert_eq!(w.client.send(Method::DELETE, &one, &ADMIN, None, None).await.status, 204);
    assert_eq!(admin_get(&w, &one).await.status, 404);

    let mock_path = format!("{project}/integrations/mock");
    assert_eq!(w.client.send(Method::DELETE, &mock_path, &ADMIN, None, None).await.status, 204);
    assert_eq!(admin_get(&w, &mock_path).await.status, 404);
    assert!(
        admin_get(&w, &format!("{project}/integrations")).await.json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(w.client.send(Method::DELETE, &mock_path, &ADMIN, None, None).await.status, 404);
}

/// Imports a key for `entity` (the upstream takes `sk-good`) or a user for the
/// Basic integration.
async fn connect(w: &World, entity: &str, integration: &str, credentials: Value) {
    let body = json!({"integration": integration, "credentials": credentials});
    let path = format!("/v1/entities/{entity}/connections");
    let headers = [("securix-api-key", w.api_key.as_str()), ("securix-agent-id", "cli")];
    let imported = w.client.json(Method::POST, &path, &headers, body).await;
    assert_eq!(imported.status, 201, "{}", imported.text);
}

/// The operator's views across a project: entities with their connection counts,
/// connections filtered by integration, status and entity, sessions newest first
/// and filtered; each a page at a time, never a credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_views_show_entities_connections_and_sessions() {
    let w = world().await;
    let (_upstream, api) = crate::credentials::upstream().await;
    let llm = crate::credentials::keyed(&api, json!({"in": "header", "name": "x-api-key"}), "/me");
    assert_eq!(crate::credentials::put(&w, "llm", "api_key", llm).await.status, 200);
    let twilio = json!({"apiBaseUrl": format!("{api}/keyed"), "allowedHosts": ["localhost"]});
    assert_eq!(crate::credentials::put(&w, "sms", "twilio", twilio).await.status, 200);
    for entity in ["acme-1", "acme-2", "acme-3", "zeta-1"] {
        connect(&w, entity, "llm", json!({"apiKey": "sk-good"})).await;
    }
    for user in ["ada", "bob"] {
        connect(&w, "acme-2", "sms", json!({"username": user, "password": "s3cret"})).await;
    }
    let project = format!("/v1/admin/projects/{}", w.project_id);

    let entities = all_pages(&w, &format!("{project}/entities"), "entityId", 2, async || {}).await;
    assert_eq!(entities, ["acme-1", "acme-2", "acme-3", "zeta-1"], "id order, page by page");
    let acme = admin_get(&w, &format!("{project}/entities?q=acme-2")).await.json();
    assert_eq!(acme["items"].as_array().unwrap().len(), 1, "{acme}");
    assert_eq!(acme["items"][0]["connections"], 3, "{acme}");
    let prefixed = admin_get(&w, &format!("{project}/entities?q=acme")).await.json();
    assert_eq!(prefixed["items"].as_array().unwrap().len(), 3, "a prefix: {prefixed}");

    let all = all_pages(&w, &format!("{project}/connections"), "connectionId", 4, async || {}).await;
    assert_eq!(all.len(), 6);
    let sms = admin_get(&w, &format!("{project}/connections?integration=sms")).await;
    let items = sms.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|c| c["entityId"] == "acme-2" && c["integration"] == "sms"));
    assert_eq!(items.iter().filter(|c| c["default"] == true).count(), 1, "one default of the two accounts");
    assert!(!sms.text.contains("s3cret") && !sms.text.contains("sk-good"), "never a credential");
    let of_entity = admin_get(&w, &format!("{project}/connections?entityId=zeta-1")).await.json();
    assert_eq!(of_entity["items"].as_array().unwrap().len(), 1);
    let reauth = admin_get(&w, &format!("{project}/connections?status=reauth_required")).await.json();
    assert!(reauth["items"].as_array().unwrap().is_empty());
    let bad = admin_get(&w, &format!("{project}/connections?status=sleepy")).await;
    assert_eq!(bad.status, 400, "{}", bad.text);

    let mut created = Vec::new();
    for entity in ["s-1", "s-2", "s-3"] {
        let body = json!({"entityId": entity, "flow": "device", "providers": {"mock": {}}});
        let session = w.client.json(Method::POST, "/v1/sessions", &w.app_headers(), body).await;
        assert_eq!(session.status, 201, "{}", session.text);
        created.push(session.json()["sessionId"].as_str().unwrap().to_owned());
        // Distinct creation times, so newest first is one order.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let sessions = all_pages(&w, &format!("{project}/sessions"), "sessionId", 2, async || {}).await;
    created.reverse();
    assert_eq!(sessions, created, "newest first");
    let pending = admin_get(&w, &format!("{project}/sessions?status=pending&flow=device")).await.json();
    assert_eq!(pending["items"].as_array().unwrap().len(), 3, "{pending}");
    assert_eq!(pending["items"][0]["providers"]["mock"], "pending");
    let popups = admin_get(&w, &format!("{project}/sessions?flow=popup")).await.json();
    assert!(popups["items"].as_array().unwrap().is_empty());
}

/// Pages of the delivery log until `found` picks a record, for at most 15 s.
async fn delivery_where(w: &World, query: &str, found: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/v1/admin/projects/{}/webhook-deliveries{query}", w.project_id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let page = admin_get(w, &path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        if let Some(record) = page.json()["items"].as_array().unwrap().iter().find(|r| found(r)) {
            return record.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no such delivery in {}", page.text);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Every attempt at an endpoint is logged with what the receiver said and how long
/// it took; a failing one says why and when it is tried next; an operator sends a
/// logged delivery again and the receiver gets the event a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_logged_filtered_and_sent_again_on_request() {
    let w = world().await;
    let project = format!("/v1/admin/projects/{}", w.project_id);
    let port = crate::support::free_port();
    let good = json!({"url": format!("http://127.0.0.1:{port}/hooks")});
    let good =
        w.client.json(Method::POST, &format!("{project}/webhook-endpoints"), &ADMIN, good).await.json();
    let good_id = good["endpointId"].as_str().unwrap().to_owned();
    let dead = json!({"url": format!("http://127.0.0.1:{}/hooks", crate::support::free_port())});
    let dead =
        w.client.json(Method::POST, &format!("{project}/webhook-endpoints"), &ADMIN, dead).await.json();
    let dead_id = dead["endpointId"].as_str().unwrap().to_owned();
    let keys = w.client.get("/v1/webhooks/keys", &w.app_headers()).await.json();
    let (_receiver, lines) =
        crate::webhooks::start_receiver(port, keys["keys"][0]["publicKey"].as_str().unwrap()).await;

    let (_upstream, api) = crate::credentials::upstream().await;
    let llm = crate::credentials::keyed(&api, json!({"in": "header", "name": "x-api-key"}), "/me");
    assert_eq!(crate::credentials::put(&w, "llm", "api_key", llm).await.status, 200);
    connect(&w, "hooked", "llm", json!({"apiKey": "sk-good"})).await;

    let delivered =
        delivery_where(&w, "", |r| r["endpointId"] == good_id.as_str() && r["status"] == "delivered").await;
    assert!((200..300).contains(&delivered["responseStatus"].as_u64().unwrap()), "{delivered}");
    assert!(delivered["latencyMs"].is_u64() && delivered["attempt"] == 1, "{delivered}");
    let failing = delivery_where(&w, "", |r| r["endpointId"] == dead_id.as_str()).await;
    assert!(failing["responseStatus"].is_null() && failing["error"].is_string(), "{failing}");
    assert!(
        failing["status"] == "failed" || failing["nextAttemptAt"].is_string(),
        "a pending attempt says when it is tried next: {failing}"
    );
    let only_dead = admin_get(&w, &format!("{project}/webhook-deliveries?endpointId={dead_id}")).await.json();
    let records = only_dead["items"].as_array().unwrap();
    assert!(
        !records.is_empty() && records.iter().all(|r| r["endpointId"] == dead_id.as_str()),
        "{only_dead}"
    );
    let none_delivered =
        admin_get(&w, &format!("{project}/webhook-deliveries?endpointId={dead_id}&status=delivered"))
            .await
            .json();
    assert!(none_delivered["items"].as_array().unwrap().is_empty());

    let event_id = delivered["eventId"].as_str().unwrap().to_owned();
    let delivery_id = delivered["deliveryId"].as_str().unwrap();
    let retry = format!("{project}/webhook-deliveries/{delivery_id}/retry");
    let accepted = w.client.send(Method::POST, &retry, &ADMIN, None, None).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while lines.lock().unwrap().iter().filter(|l| l["id"] == event_id.as_str()).count() < 2 {
        assert!(std::time::Instant::now() < deadline, "the retried delivery did not arrive");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let query = format!("?eventId={event_id}&endpointId={good_id}&status=delivered");
    let path = format!("{project}/webhook-deliveries{query}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while admin_get(&w, &path).await.json()["items"].as_array().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the retry was not logged");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let unknown = format!("{project}/webhook-deliveries/dlv_aaaaaaaaaaaaaaaaaaaaaaaaaa/retry");
    assert_eq!(w.client.send(Method::POST, &unknown, &ADMIN, None, None).await.status, 404);
}

/// The project's token uses across entities, newest first, filtered by entity,
/// integration and agent, a page at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_view_lists_every_token_use_of_the_project() {
    let w = world().await;
    let (_upstream, api) = crate::credentials::upstream().await;
    let llm = crate::credentials::keyed(&api, json!({"in": "header", "name": "x-api-key"}), "/me");
    assert_eq!(crate::credentials::put(&w, "llm", "api_key", llm).await.status, 200);
    for entity in ["audited-1", "audited-2"] {
        connect(&w, entity, "llm", json!({"apiKey": "sk-good"})).await;
        let headers = [
            ("securix-api-key", w.api_key.as_str()),
            ("securix-agent-id", "cli"),
            ("securix-entity-id", entity),
        ];
        for _ in 0..2 {
            let called = w.client.get("/v1/proxy/llm/v1/echo", &headers).await;
            assert_eq!(called.status, 200, "{}", called.text);
        }
    }
    let path = format!("/v1/admin/projects/{}/audit", w.project_id);
    // The audit log is written in batches: wait for all four.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let all = loop {
        let page = admin_get(&w, &path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let items = page.json()["items"].as_array().unwrap().clone();
        if items.len() >= 4 || std::time::Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(all.len(), 4, "{all:?}");
    let times: Vec<&str> = all.iter().map(|r| r["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {times:?}");
    assert!(all.iter().all(|r| r["agentId"] == "cli" && r["integration"] == "llm" && r["method"] == "GET"));
    assert!(!serde_json::to_string(&all).unwrap().contains("sk-good"), "never a credential");
    let one = admin_get(&w, &format!("{path}?entityId=audited-2")).await.json();
    let items = one["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|r| r["entityId"] == "audited-2"));
    let other_agent = admin_get(&w, &format!("{path}?agentId=someone-else")).await.json();
    assert!(other_agent["items"].as_array().unwrap().is_empty());
    // A page ends where a batch ends: with limit=1 a page holds one batch.
    let (mut paged, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = admin_get(&w, &format!("{path}?limit=1{cursor}")).await.json();
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(paged, all, "page by page, nothing repeated or skipped");
}
