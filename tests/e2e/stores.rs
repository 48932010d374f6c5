//! `SECURIX_STORE`: the server on PostgreSQL, where state outlives a node and two
//! nodes see the same data; bad values are refused.

use reqwest::Method;
use serde_json::json;

use crate::api::{ADMIN_TOKEN, Client};
use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_postgresql_and_its_state_is_shared() {
    let pg = crate::postgres::Postgres::start();
    // trust authentication accepts any password: this one must never be printed.
    let url = pg.url.replace("securix@", "securix:pg-password-never-logged@");
    let key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
    let env =
        [("SECURIX_STORE", url.as_str()), ("SECURIX_MASTER_KEY", key), ("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN)];
    let admin = [("securix-admin-token", ADMIN_TOKEN)];

    let first = Server::start(&env).await;
    let client = Client::new(&first.base_url);
    let project = client.json(Method::POST, "/v1/admin/projects", &admin, json!({"name": "Shared"})).await;
    assert_eq!(project.status, 201, "{}", project.text);
    let project_id = project.json()["projectId"].as_str().unwrap().to_owned();
    assert!(
        !first.data_dir.path().join("securix.redb").exists(),
        "no embedded store when PostgreSQL is used"
    );

    // A second node on the same database sees the project and can issue keys for it.
    let second = Server::start(&env).await;
    let other = Client::new(&second.base_url);
    let path = format!("/v1/admin/projects/{project_id}/api-keys");
    let issued = other.json(Method::POST, &path, &admin, json!({"name": "from node two"})).await;
    assert_eq!(issued.status, 201, "{}", issued.text);
    let api_key = issued.json()["apiKey"].as_str().unwrap().to_owned();
    let listed = client.get("/v1/integrations", &[("securix-api-key", api_key.as_str())]).await;
    assert_eq!(listed.status, 200, "node one accepts the key node two issued: {}", listed.text);

    for server in [&first, &second] {
        let logs =
            [server.stdout.lock().unwrap().join("\n"), server.stderr.lock().unwrap().join("\n")].concat();
        assert!(!logs.contains("pg-password-never-logged"), "the store URL's password leaked");
    }
}

#[test]
fn a_bad_store_is_refused_with_a_clear_error() {
    let stderr = crate::support::serve_refuses(&[("SECURIX_STORE", "mysql://nope")]);
    assert!(stderr.contains("SECURIX_STORE must be"), "{stderr}");
    let stderr = crate::support::serve_refuses(&[(
        "SECURIX_STORE",
        "postgres://securix:hunter2-secret@127.0.0.1:1/db",
    )]);
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}

/// The embedded store whose commit log cannot be written any more (here: made
/// immutable under the running server) refuses writes for good, and `/readyz` says
/// so, for an orchestrator to restart the node (the engine's redb tests show that
/// reads go on and nothing unacknowledged is served).
#[tokio::test]
async fn a_node_whose_commit_log_fails_stops_taking_writes_and_is_not_ready() {
    let server = Server::start(&[("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let client = Client::new(&server.base_url);
    let admin = [("securix-admin-token", ADMIN_TOKEN)];
    let before = client.json(Method::POST, "/v1/admin/projects", &admin, json!({"name": "Before"})).await;
    assert_eq!(before.status, 201, "{}", before.text);
    assert!(client.get("/metrics", &[]).await.text.contains("securix_store_refusing_commits 0"));
    let logs = ["securix.redb-log", "securix.redb-log.1"].map(|name| server.data_dir.path().join(name));
    let chattr = |flag: &str| {
        logs.iter().all(|log| {
            let status = std::process::Command::new("chattr").arg(flag).arg(log).status();
            status.is_ok_and(|status| status.success())
        })
    };
    if !chattr("+i") {
        chattr("-i");
        eprintln!("SKIPPED: files cannot be made immutable here (chattr +i), so the log cannot fail");
        return;
    }
    let refused = client.json(Method::POST, "/v1/admin/projects", &admin, json!({"name": "Refused"})).await;
    let ready = client.get("/readyz", &[]).await.status;
    let metrics = client.get("/metrics", &[]).await.text;
    chattr("-i");
    assert!(
        refused.status.is_server_error(),
        "a write the log cannot hold fails: {} {}",
        refused.status,
        refused.text
    );
    assert_eq!(ready, 503, "the node is not ready once it refuses commits");
    assert!(metrics.contains("securix_store_refusing_commits 1"), "{metrics}");
}
