//! Three `securix` nodes on one PostgreSQL: a flow spread over all three, a node
//! killed with SIGKILL while webhooks wait in its shards, the survivors taking over
//! within the lease, and the node rejoining.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN_TOKEN, Client, browser_consent, enter_code};
use crate::mesh_certs::{MeshCa, NodeCert};
use crate::peers::{MockOAuth, ShortLivedOAuth};
use crate::support::{Server, free_port};

const LEASE_MS: u64 = 1500;
const MASTER_KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

const COOKIE: &str = "cluster-cookie-never-logged-0123456789";

/// The mesh addresses of a cluster's nodes, chosen before any starts.
struct MeshPorts(Vec<(String, String)>);

impl MeshPorts {
    fn new(ids: &[&str]) -> Self {
        MeshPorts(ids.iter().map(|id| (id.to_string(), format!("127.0.0.1:{}", free_port()))).collect())
    }

    fn listen(&self, id: &str) -> String {
        self.0.iter().find(|(node, _)| node == id).map(|(_, address)| address.clone()).unwrap()
    }

    /// Every other node: a node joins through whichever of them is up.
    fn seeds(&self, id: &str) -> String {
        let others: Vec<&str> =
            self.0.iter().filter(|(node, _)| node != id).map(|(_, address)| address.as_str()).collect();
        others.join(",")
    }
}

async fn node(url: &str, id: &str, mesh: &MeshPorts) -> Server {
    start_node(url, id, mesh, COOKIE, LEASE_MS, &[]).await
}

async fn start_node(
    url: &str,
    id: &str,
    mesh: &MeshPorts,
    cookie: &str,
    lease_ms: u64,
    more: &[(String, String)],
) -> Server {
    let (lease, listen, seeds) = (lease_ms.to_string(), mesh.listen(id), mesh.seeds(id));
    let mut env = vec![
        ("SECURIX_STORE", url),
        ("SECURIX_NODE_ID", id),
        ("SECURIX_NODE_LEASE_MS", lease.as_str()),
        ("SECURIX_CLUSTER_LISTEN", listen.as_str()),
        ("SECURIX_CLUSTER_SEEDS", seeds.as_str()),
        ("SECURIX_CLUSTER_COOKIE", cookie),
        ("SECURIX_MASTER_KEY", MASTER_KEY),
        ("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN),
        ("SECURIX_ALLOW_LOOPBACK_HTTP", "1"),
        ("SECURIX_WEBHOOK_SCHEDULE", "0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"),
    ];
    env.extend(more.iter().map(|(name, value)| (name.as_str(), value.as_str())));
    Server::start(&env).await
}

/// Waits until the shard records have stood still for longer than a membership
/// round (`round`) and every node holds exactly the shards they give it: every node
/// has then read them, so all route a shard's work to the same owner.
async fn until_settled(clients: &[Client], round: Duration, within: Duration) {
    let started = Instant::now();
    let mut last_records = Value::Null;
    loop {
        let mut settled = true;
        for client in clients {
            let view = cluster_view(client).await;
            let held: Vec<u64> =
                view["owned"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
            let on_record: Vec<u64> = view["shards"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["nodeId"] == view["nodeId"])
                .filter_map(|s| s["shard"].as_u64())
                .collect();
            settled &= held == on_record && view["shards"] == last_records;
            last_records = view["shards"].clone();
        }
        if settled {
            return;
        }
        assert!(started.elapsed() < within, "the nodes never settled on the recorded owners");
        tokio::time::sleep(round + Duration::from_millis(250)).await;
    }
}

fn assert_cookie_never_logged<'a>(servers: impl IntoIterator<Item = &'a Server>) {
    for server in servers {
        let logged =
            [server.stdout.lock().unwrap().join("\n"), server.stderr.lock().unwrap().join("\n")].concat();
        assert!(!logged.contains(COOKIE), "the mesh cookie was logged by {}", server.base_url);
    }
}

/// Waits until the node behind `client` is connected to exactly `peers` over the mesh.
async fn until_meshed_with(client: &Client, peers: &[&str], within: Duration) {
    let started = Instant::now();
    loop {
        let view = cluster_view(client).await;
        let connected: Vec<&str> =
            view["mesh"]["peers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if connected == peers {
            return;
        }
        assert!(started.elapsed() < within, "the mesh never settled on {peers:?}: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn cluster_view(client: &Client) -> Value {
    client.get("/v1/admin/cluster", &[("securix-admin-token", ADMIN_TOKEN)]).await.json()
}

/// Shards per owner in a view.
fn owners(view: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for shard in view["shards"].as_array().into_iter().flatten() {
        *counts.entry(shard["nodeId"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Waits until every shard is owned and exactly `nodes` own them.
async fn until_owned_by(client: &Client, nodes: &[&str], within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let view = cluster_view(client).await;
        let counts = owners(&view);
        let all = counts.values().sum::<usize>() == 64;
        if all && counts.keys().map(String::as_str).eq(nodes.iter().copied()) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "shards never settled on {nodes:?}: {counts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Through `on`: a project with an API key, the agent `cli` and the integration
/// `mock` at the OAuth server `provider`. Returns the project id and the API key.
async fn provision(on: &Client, provider: &str) -> (String, String) {
    let admin = [("securix-admin-token", ADMIN_TOKEN)];
    let project = on.json(Method::POST, "/v1/admin/projects", &admin, json!({"name": "Acme Corp"})).await;
    let project_id = project.json()["projectId"].as_str().unwrap().to_owned();
    let key_path = format!("/v1/admin/projects/{project_id}/api-keys");
    let key = on.json(Method::POST, &key_path, &admin, json!({"name": "k"})).await.json();
    let api_key = key["apiKey"].as_str().unwrap().to_owned();
    let agents = format!("/v1/admin/projects/{project_id}/agents");
    on.json(Method::POST, &agents, &admin, json!({"agentId": "cli"})).await;
    let integration = json!({
        "provider": "oauth2", "clientId": "cluster", "clientSecret": "cluster-secret",
        "config": {"discoveryUrl": format!("{provider}/.well-known/openid-configuration"), "apiBaseUrl": provider}
    });
    let path = format!("/v1/admin/projects/{project_id}/integrations/mock");
    assert_eq!(on.json(Method::PUT, &path, &admin, integration).await.status, 200);
    (project_id, api_key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_work_survive_a_kill_and_rebalance() {
    let pg = crate::postgres::Postgres::start();
    let mock = MockOAuth::start().await;
    let mesh = MeshPorts::new(&["a", "b", "c"]);
    // Started at the same instant on an empty database: all three set the schema up.
    let (a, b, c) =
        tokio::join!(node(&pg.url, "a", &mesh), node(&pg.url, "b", &mesh), node(&pg.url, "c", &mesh));
    let mut b = Some(b);
    let (on_a, on_c) = (Client::new(&a.base_url), Client::new(&c.base_url));
    let on_b = Client::new(&b.as_ref().unwrap().base_url);
    until_owned_by(&on_a, &["a", "b", "c"], Duration::from_secs(15)).await;
    let view = cluster_view(&on_c).await;
    assert_eq!(view["nodes"].as_array().unwrap().len(), 3, "{view}");
    assert!(view["nodes"].as_array().unwrap().iter().all(|n| n["live"] == true), "{view}");

    let (project_id, api_key) = provision(&on_a, &mock.base_url).await;
    let admin = [("securix-admin-token", ADMIN_TOKEN)];
    // Webhooks go to a receiver that is not there yet: they wait in the outbox.
    let receiver_port = free_port();
    let hook = json!({"url": format!("http://127.0.0.1:{receiver_port}/hook")});
    on_a.json(Method::POST, &format!("/v1/admin/projects/{project_id}/webhook-endpoints"), &admin, hook)
        .await;
    let app = [("securix-api-key", api_key.as_str()), ("securix-agent-id", "cli")];

    // Device sessions created on A, completed through B's pages, polled on C.
    let users = ["u1", "u2", "u3", "u4", "u5"];
    for user in users {
        let body = json!({"entityId": user, "flow": "device", "providers": {"mock": {}}});
        let created = on_a.json(Method::POST, "/v1/sessions", &app, body).await.json();
        let session_id = created["sessionId"].as_str().unwrap().to_owned();
        let (entered, cookie) = enter_code(&on_b, created["deviceAuthCode"].as_str().unwrap()).await;
        assert_eq!(entered, session_id);
        let done = browser_consent(&on_b, &on_b.base, &session_id, Some(&cookie)).await;
        assert_eq!(done.status, 200, "{}", done.text);
        let status = on_c.get(&format!("/v1/sessions/{session_id}"), &app).await.json();
        assert_eq!(status["status"], "completed", "{status}");
    }

    // A flow begun on B, and proxy calls to A and C that keep going through the kill.
    let body = json!({"entityId": "u6", "flow": "device", "providers": {"mock": {}}});
    let in_flight = on_b.json(Method::POST, "/v1/sessions", &app, body).await.json();
    let proxying = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let callers: Vec<_> = [a.base_url.clone(), c.base_url.clone()]
        .into_iter()
        .map(|base| {
            let (keep_going, api_key) = (proxying.clone(), api_key.clone());
            tokio::spawn(async move {
                let client = Client::new(&base);
                let headers = [
                    ("securix-api-key", api_key.as_str()),
                    ("securix-agent-id", "cli"),
                    ("securix-entity-id", "u1"),
                ];
                let (mut ok, mut failed) = (0, 0);
                while keep_going.load(std::sync::atomic::Ordering::Relaxed) {
                    match client.get("/v1/proxy/mock/userinfo", &headers).await.status.as_u16() {
                        200 => ok += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();

    // SIGKILL node B; A and C take its shards within the lease.
    let killed_at = Instant::now();
    drop(b.take());
    let took_over = until_owned_by(&on_a, &["a", "c"], Duration::from_secs(10)).await;
    let limit =
        Duration::from_millis(LEASE_MS) + Duration::from_secs(1) + Duration::from_millis(LEASE_MS / 4);
    eprintln!("B's shards were taken over {:?} after its death (lease {LEASE_MS} ms)", killed_at.elapsed());
    assert!(took_over <= limit, "took {took_over:?}, more than lease + 1 s");
    proxying.store(false, std::sync::atomic::Ordering::Relaxed);
    for caller in callers {
        let (ok, failed) = caller.await.unwrap();
        assert!(ok > 0 && failed == 0, "proxy calls through the kill: {ok} answered, {failed} failed");
    }
    // The flow B began completes through A's pages and is polled on C.
    let session_id = in_flight["sessionId"].as_str().unwrap();
    let (entered, cookie) = enter_code(&on_a, in_flight["deviceAuthCode"].as_str().unwrap()).await;
    assert_eq!(entered, session_id);
    assert_eq!(browser_consent(&on_a, &on_a.base, session_id, Some(&cookie)).await.status, 200);
    let status = on_c.get(&format!("/v1/sessions/{session_id}"), &app).await.json();
    assert_eq!(status["status"], "completed", "{status}");

    // The receiver comes up: every event, including those queued in B's shards, arrives once verified.
    let keys = on_a.get("/v1/webhooks/keys", &app).await.json();
    let public_key = keys["keys"][0]["publicKey"].as_str().unwrap().to_owned();
    let (receiver, lines) = crate::webhooks::start_receiver(receiver_port, &public_key).await;
    // Two events for each of the five flows before the kill and the one after it.
    let expected = (users.len() + 1) * 2;
    // While the receiver was down its circuit opened, for up to 30 s once failures
    // pile up (a slow host takes longer over the kill): allow that, and some.
    let deadline = Instant::now() + Duration::from_secs(45);
    let delivered = loop {
        let ids: std::collections::BTreeSet<String> = lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["valid"] == true)
            .map(|l| l["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        if ids.len() >= expected || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(receiver);
    assert_eq!(delivered.len(), expected, "every event delivered after the failover: {delivered:?}");
    let connections = on_c.get("/v1/entities/u2/connections", &app).await.json();
    assert_eq!(connections.as_array().unwrap().len(), 1, "one connection, not duplicated: {connections}");

    // B comes back under its name and gets shards again.
    let b = node(&pg.url, "b", &mesh).await;
    until_owned_by(&on_c, &["a", "b", "c"], Duration::from_secs(15)).await;
    until_meshed_with(&on_c, &["a", "b"], Duration::from_secs(10)).await;
    assert_cookie_never_logged([&a, &b, &c]);
}

/// Fifty proxy calls spread over three nodes, all on an access token coming due for
/// a refresh, and the three nodes' background refreshers, cause exactly one refresh
/// at the provider: the refresh lock lives in the store, so they wait for one
/// another instead of racing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_calls_over_three_nodes_on_an_expiring_token_refresh_it_once() {
    let pg = crate::postgres::Postgres::start();
    // A 6 s token is due 3 s after it is issued (the margin is half a short lifetime).
    let provider = ShortLivedOAuth::start(6).await;
    let mesh = MeshPorts::new(&["a", "b", "c"]);
    let (a, b, c) =
        tokio::join!(node(&pg.url, "a", &mesh), node(&pg.url, "b", &mesh), node(&pg.url, "c", &mesh));
    let nodes = [a, b, c];
    let clients: Vec<Client> = nodes.iter().map(|n| Client::new(&n.base_url)).collect();
    let (_, api_key) = provision(&clients[0], &provider.base_url).await;
    let app = [("securix-api-key", api_key.as_str()), ("securix-agent-id", "cli")];
    let body = json!({"entityId": "u1", "flow": "device", "providers": {"mock": {}}});
    let created = clients[0].json(Method::POST, "/v1/sessions", &app, body).await.json();
    let session_id = created["sessionId"].as_str().unwrap();
    let (_, cookie) = enter_code(&clients[1], created["deviceAuthCode"].as_str().unwrap()).await;
    assert_eq!(browser_consent(&clients[1], &clients[1].base, session_id, Some(&cookie)).await.status, 200);

    // The calls start as the token comes due, when the refreshers start too.
    tokio::time::sleep(Duration::from_millis(2900)).await;
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let (client, api_key) = (clients[i % 3].clone(), api_key.clone());
            tokio::spawn(async move {
                let headers = [
                    ("securix-api-key", api_key.as_str()),
                    ("securix-agent-id", "cli"),
                    ("securix-entity-id", "u1"),
                ];
                client.get("/v1/proxy/mock/userinfo", &headers).await.status.as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(provider.refreshes(), 1, "exactly one refresh at the provider, cluster-wide");
}

/// Over a mesh with mutual TLS, a device session's polls meet one actor whichever
/// node they land on, so `slow_down` holds cluster-wide. A node with the cluster's
/// certificate but the wrong cookie, and one with the cookie but a certificate from
/// another CA, never become peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_through_any_node_meet_the_session_owner_over_tls_and_strangers_stay_out() {
    let pg = crate::postgres::Postgres::start();
    let mock = MockOAuth::start().await;
    let ca = MeshCa::new("securix test cluster");
    let mesh = MeshPorts::new(&["a", "b", "c", "stranger", "impostor"]);
    // A lease long enough that a busy machine does not see nodes flap: the check
    // below needs every node to route each shard to the same owner.
    let lease_ms = 5000;
    let mut nodes = Vec::new();
    for id in ["a", "b", "c"] {
        nodes.push(start_node(&pg.url, id, &mesh, COOKIE, lease_ms, &ca.node(id).env()).await);
    }
    let clients: Vec<Client> = nodes.iter().map(|n| Client::new(&n.base_url)).collect();
    until_owned_by(&clients[0], &["a", "b", "c"], Duration::from_secs(15)).await;
    until_meshed_with(&clients[0], &["b", "c"], Duration::from_secs(10)).await;
    until_meshed_with(&clients[1], &["a", "c"], Duration::from_secs(10)).await;
    until_meshed_with(&clients[2], &["a", "b"], Duration::from_secs(10)).await;
    assert_eq!(cluster_view(&clients[0]).await["mesh"]["tls"], true);

    let (_, api_key) = provision(&clients[0], &mock.base_url).await;
    let app = [("securix-api-key", api_key.as_str()), ("securix-agent-id", "cli")];
    for user in ["u1", "u2", "u3", "u4"] {
        until_settled(&clients, Duration::from_millis(lease_ms / 4), Duration::from_secs(30)).await;
        let body = json!({"entityId": user, "flow": "device", "providers": {"mock": {}}});
        let created = clients[0].json(Method::POST, "/v1/sessions", &app, body).await.json();
        let path = format!("/v1/sessions/{}", created["sessionId"].as_str().unwrap());
        let first = clients[1].get(&path, &app).await;
        assert_eq!(first.status, 200, "{}", first.text);
        for again in [&clients[2], &clients[0]] {
            let polled = again.get(&path, &app).await;
            assert_eq!(polled.status, 429, "a poll on another node within the interval: {}", polled.text);
            assert_eq!(
                polled.json()["type"].as_str().unwrap_or_default().rsplit('/').next(),
                Some("slow_down")
            );
        }
    }
    let mut forwarded = 0;
    for client in &clients {
        forwarded += cluster_view(client).await["mesh"]["forwarded"].as_u64().unwrap_or(0);
    }
    assert!(forwarded >= 8, "polls reached their owners over the mesh: {forwarded}");
    let metrics = clients[0].get("/metrics", &[]).await.text;
    assert!(metrics.contains("securix_mesh_peers 2"), "{metrics}");

    // A frozen owner (its connections open, answering nothing) holds no poll for
    // long: past the poll's patience, the node it landed on answers by itself.
    let mut paths = Vec::new();
    for n in 0..16 {
        let body = json!({"entityId": format!("f{n}"), "flow": "device", "providers": {"mock": {}}});
        let created = clients[0].json(Method::POST, "/v1/sessions", &app, body).await.json();
        paths.push(format!("/v1/sessions/{}", created["sessionId"].as_str().unwrap()));
    }
    nodes[2].signal("STOP");
    let started = Instant::now();
    let polls: Vec<_> = paths
        .into_iter()
        .map(|path| {
            let (client, app) = (clients[1].clone(), app.map(|(name, value)| (name, value.to_owned())));
            tokio::spawn(async move {
                let headers: Vec<(&str, &str)> =
                    app.iter().map(|(name, value)| (*name, value.as_str())).collect();
                client.get(&path, &headers).await.status
            })
        })
        .collect();
    for poll in polls {
        assert_eq!(poll.await.unwrap(), 200);
    }
    let waited = started.elapsed();
    nodes[2].signal("CONT");
    assert!(waited < Duration::from_secs(4), "polls waited {waited:?} on a frozen owner");
    let unreachable = cluster_view(&clients[1]).await["mesh"]["unreachable"].as_u64().unwrap_or(0);
    assert!(unreachable >= 1, "some of the 16 sessions belong to the frozen node's shards");

    let foreign = MeshCa::new("another cluster");
    let stranger = start_node(
        &pg.url,
        "stranger",
        &mesh,
        "some-other-cookie-0123456789",
        lease_ms,
        &ca.node("stranger").env(),
    )
    .await;
    // The impostor trusts the cluster's CA (so it accepts our nodes' certificates)
    // but shows one from its own: only our side's check of client certificates keeps it out.
    let impostor_cert = NodeCert { ca: ca.ca_path(), ..foreign.node("impostor") };
    let impostor = start_node(&pg.url, "impostor", &mesh, COOKIE, lease_ms, &impostor_cert.env()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    until_meshed_with(&clients[0], &["b", "c"], Duration::from_secs(1)).await;
    until_meshed_with(&Client::new(&stranger.base_url), &[], Duration::from_secs(1)).await;
    until_meshed_with(&Client::new(&impostor.base_url), &[], Duration::from_secs(1)).await;
    assert_cookie_never_logged(nodes.iter().chain([&stranger, &impostor]));
}
