//! The `securix` CLI end to end: administration with `--json`, then `securix
//! connect --flow device` waiting while a browser completes the flow against
//! oauth2-mock-server; and a clear one-line error with a non-zero exit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::{ADMIN_TOKEN, Client, browser_consent, enter_code};
use crate::peers::MockOAuth;
use crate::support::{Server, securix_binary};

fn cli(server: &Server, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(securix_binary());
    command
        .args(args)
        .env("SECURIX_URL", &server.base_url)
        .env("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("SECURIX_API_KEY");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json_of(out: &(bool, String, String)) -> Value {
    assert!(out.0, "the command failed: {}", out.2);
    serde_json::from_str(out.1.lines().last().unwrap_or_default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_from_the_terminal_with_the_device_flow() {
    let mock = MockOAuth::start().await;
    let server =
        Server::start(&[("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN), ("SECURIX_ALLOW_LOOPBACK_HTTP", "1")]).await;
    let project = json_of(&cli(&server, &["project", "create", "Acme Corp", "--json"], &[]));
    let project_id = project["projectId"].as_str().unwrap().to_owned();
    let key =
        json_of(&cli(&server, &["api-key", "create", "--project", &project_id, "terminal", "--json"], &[]));
    let api_key = key["apiKey"].as_str().unwrap().to_owned();
    json_of(&cli(&server, &["agent", "create", "--project", &project_id, "cli", "--json"], &[]));
    let config = format!(
        r#"{{"discoveryUrl": "{0}/.well-known/openid-configuration", "apiBaseUrl": "{0}"}}"#,
        mock.base_url
    );
    let integration = cli(
        &server,
        &[
            "integration",
            "put",
            "--project",
            &project_id,
            "mock",
            "--provider",
            "oauth2",
            "--client-id",
            "securix-cli",
            "--scope",
            "openid",
            "--config",
            &config,
            "--json",
        ],
        &[("SECURIX_CLIENT_SECRET", "cli-client-secret")],
    );
    let view = json_of(&integration);
    assert_eq!(view["provider"], "oauth2");
    assert!(!integration.1.contains("cli-client-secret"));

    let mut connect = Command::new(securix_binary())
        .args(["connect", "--flow", "device", "--entity", "user_9", "--provider", "mock", "--json"])
        .env("SECURIX_URL", &server.base_url)
        .env("SECURIX_API_KEY", &api_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(connect.stdout.take().unwrap()).lines();
    let shown: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(shown["authUrl"], format!("{}/device", server.base_url));
    let code = shown["deviceAuthCode"].as_str().unwrap().to_owned();

    let browser = Client::new(&server.base_url);
    let (session_id, cookie) = enter_code(&browser, &code).await;
    assert_eq!(session_id, shown["sessionId"].as_str().unwrap());
    let done = browser_consent(&browser, &server.base_url, &session_id, Some(&cookie)).await;
    assert_eq!(done.status, 200);

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = connect.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "securix connect did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "securix connect exits 0 when the connection is ready");
    let last: Value = serde_json::from_str(&lines.last().unwrap().unwrap()).unwrap();
    assert_eq!(last["status"], "completed");

    // One clear line and a non-zero exit for a wrong key.
    let wrong = cli(
        &server,
        &["connect", "--entity", "user_9", "--provider", "mock"],
        &[("SECURIX_API_KEY", "sxk_nope")],
    );
    assert!(!wrong.0);
    assert_eq!(wrong.2.trim().lines().count(), 1, "{}", wrong.2);
    assert!(wrong.2.starts_with("securix: ") && wrong.2.contains("API key"), "{}", wrong.2);
    let help = cli(&server, &["connect", "--help"], &[]);
    assert!(help.0 && help.1.contains("--provider"));
}

#[test]
fn webhooks_verify_checks_the_published_test_vector() {
    let vector: Value = serde_json::from_str(include_str!("../../docs/webhook-test-vector.json")).unwrap();
    let text = |k: &str| vector[k].as_str().unwrap().to_owned();
    let run = |id: &str, body: &str| {
        let mut child = Command::new(securix_binary())
            .args([
                "webhooks",
                "verify",
                "--public-key",
                &text("publicKey"),
                "--id",
                id,
                "--timestamp",
                &text("timestamp"),
                "--signature",
                &text("signature"),
                "--now",
                &text("timestamp"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), body.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let good = run(&text("id"), &text("body"));
    assert!(good.0 && good.1.trim() == "valid", "{good:?}");
    let changed_body = run(&text("id"), &text("body").replacen("user_123", "user_124", 1));
    assert!(!changed_body.0 && changed_body.2.starts_with("securix: "), "{changed_body:?}");
    assert!(!run("evt_other", &text("body")).0, "a changed id fails");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoints_and_keys_from_the_terminal() {
    let server =
        Server::start(&[("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN), ("SECURIX_ALLOW_LOOPBACK_HTTP", "1")]).await;
    let project = json_of(&cli(&server, &["project", "create", "Hooks", "--json"], &[]));
    let project_id = project["projectId"].as_str().unwrap();
    let args = ["webhook", "add", "--project", project_id, "http://127.0.0.1:9/hook", "--event"];
    let added = json_of(&cli(&server, &[&args[..], &["connection.created", "--json"]].concat(), &[]));
    assert!(added["endpointId"].as_str().unwrap().starts_with("whe_"), "{added}");
    let refused = cli(&server, &["webhook", "add", "--project", project_id, "ftp://example.com/"], &[]);
    assert!(!refused.0 && refused.2.trim().lines().count() == 1, "{}", refused.2);

    let rotate = ["webhook", "rotate-key", "--project", project_id, "--json"];
    let first = json_of(&cli(&server, &rotate, &[]));
    let second = json_of(&cli(&server, &rotate, &[]));
    assert!(second["publicKey"].as_str().unwrap().starts_with("whpk_"));
    let key_id = first["id"].as_str().unwrap();
    let retire = ["webhook", "retire-key", "--project", project_id, key_id, "--json"];
    let retired = json_of(&cli(&server, &retire, &[]));
    assert_eq!(retired["status"], "retired");
    let text = cli(&server, &["webhook", "rotate-key", "--project", project_id], &[]);
    assert!(text.0 && text.1.starts_with("New signing key whk_"), "{}", text.1);
}

/// Every admin listing from the terminal: a table by default, the API's page with
/// `--json`, page by page with `--limit`/`--cursor` or all of it with `--all`;
/// shows, deletes, and a project deleted with everything of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_resources_list_show_and_delete_from_the_terminal() {
    let server = Server::start(&[("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let mut projects = Vec::new();
    for name in ["One", "Two", "Three"] {
        let created = json_of(&cli(&server, &["project", "create", name, "--json"], &[]));
        projects.push(created["projectId"].as_str().unwrap().to_owned());
    }
    let table = cli(&server, &["project", "list"], &[]);
    assert!(table.0, "{}", table.2);
    let header = table.1.lines().next().unwrap_or_default();
    assert!(header.starts_with("PROJECT") && header.contains("NAME"), "{}", table.1);
    assert!(table.1.contains("Two") && table.1.trim_end().ends_with("3 in all"), "{}", table.1);
    let first = json_of(&cli(&server, &["project", "list", "--limit", "2", "--json"], &[]));
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest =
        json_of(&cli(&server, &["project", "list", "--limit", "2", "--cursor", cursor, "--json"], &[]));
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["nextCursor"].is_null());
    let all = json_of(&cli(&server, &["project", "list", "--limit", "1", "--all", "--json"], &[]));
    assert_eq!(all["items"].as_array().unwrap().len(), 3, "every page followed");

    let project = projects[0].as_str();
    let key = json_of(&cli(&server, &["api-key", "create", "--project", project, "ci", "--json"], &[]));
    let secret = key["apiKey"].as_str().unwrap();
    let keys = cli(&server, &["api-key", "list", "--project", project], &[]);
    assert!(keys.0 && keys.1.contains("sxk_") && !keys.1.contains(secret), "{}", keys.1);
    cli(&server, &["agent", "create", "--project", project, "bot"], &[]);
    let agents = json_of(&cli(&server, &["agent", "list", "--project", project, "--json"], &[]));
    assert_eq!(agents["items"][0]["agentId"], "bot");
    let grant = r#"{"integrations": {"github": {"methods": ["GET"], "paths": ["/repos/**"]}}, "connectOnDemand": true}"#;
    let granted = cli(&server, &["agent", "grant", "--project", project, "bot", "--grant", grant], &[]);
    assert!(granted.0 && granted.1.starts_with("Agent bot granted"), "{}", granted.2);
    let shown = json_of(&cli(&server, &["agent", "show", "--project", project, "bot", "--json"], &[]));
    assert_eq!(shown["integrations"]["github"]["paths"][0], "/repos/**");
    assert_eq!(shown["connectOnDemand"], true);
    let bad = cli(
        &server,
        &[
            "agent",
            "grant",
            "--project",
            project,
            "bot",
            "--grant",
            r#"{"integrations": {"github": {"methods": ["get"]}}}"#,
        ],
        &[],
    );
    assert!(!bad.0 && bad.2.lines().count() == 1, "a one-line error: {}", bad.2);
    let deleted = cli(&server, &["agent", "delete", "--project", project, "bot"], &[]);
    assert!(deleted.0 && deleted.1.starts_with("Deleted agent bot"), "{}", deleted.1);
    let gone = cli(&server, &["agent", "show", "--project", project, "bot"], &[]);
    assert!(!gone.0 && gone.2.trim().lines().count() == 1, "one line on error: {}", gone.2);
    let empty = cli(&server, &["connection", "list", "--project", project], &[]);
    assert!(empty.0 && empty.1.trim_end().ends_with("none"), "{}", empty.1);
    let sessions = json_of(&cli(&server, &["session", "list", "--project", project, "--json"], &[]));
    assert!(sessions["items"].as_array().unwrap().is_empty());

    let removed = cli(&server, &["project", "delete", project], &[]);
    assert!(removed.0, "{}", removed.2);
    let shown = cli(&server, &["project", "show", project], &[]);
    assert!(!shown.0, "a deleted project is gone");
    let left = json_of(&cli(&server, &["project", "list", "--json"], &[]));
    assert_eq!(left["items"].as_array().unwrap().len(), 2);
    let client = Client::new(&server.base_url);
    let headers = [("securix-api-key", secret), ("securix-agent-id", "cli"), ("securix-entity-id", "u")];
    assert_eq!(client.get("/v1/entities/u/connections", &headers).await.status, 401, "its keys stop working");
}

/// The operator's views from the terminal: token uses, webhook delivery attempts
/// (and sending one again), and the event log followed as it grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_deliveries_and_events_from_the_terminal() {
    let w = crate::api::world().await;
    let server = &w.server;
    let project = w.project_id.as_str();
    let dead = format!("http://127.0.0.1:{}/hooks", crate::support::free_port());
    json_of(&cli(server, &["webhook", "add", "--project", project, &dead, "--json"], &[]));

    // `events tail` from now on, waiting for one event.
    let mut tail = Command::new(securix_binary())
        .args(["events", "tail", "--count", "1", "--json"])
        .env("SECURIX_URL", &server.base_url)
        .env("SECURIX_API_KEY", &w.api_key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_upstream, api) = crate::credentials::upstream().await;
    let llm =
        crate::credentials::keyed(&api, serde_json::json!({"in": "header", "name": "x-api-key"}), "/me");
    assert_eq!(crate::credentials::put(&w, "llm", "api_key", llm).await.status, 200);
    let body = serde_json::json!({"integration": "llm", "credentials": {"apiKey": "sk-good"}});
    let imported = w
        .client
        .json(reqwest::Method::POST, "/v1/entities/user_123/connections", &w.app_headers(), body)
        .await;
    assert_eq!(imported.status, 201, "{}", imported.text);
    let deadline = Instant::now() + Duration::from_secs(15);
    let followed = loop {
        if let Some(status) = tail.try_wait().unwrap() {
            assert!(status.success());
            break tail.wait_with_output().unwrap();
        }
        assert!(Instant::now() < deadline, "events tail saw nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let event: Value = serde_json::from_slice(&followed.stdout).unwrap();
    assert_eq!(event["type"], "connection.created", "{event}");
    let from_start =
        cli(server, &["events", "tail", "--from-start", "--count", "1"], &[("SECURIX_API_KEY", &w.api_key)]);
    assert!(
        from_start.0 && from_start.1.contains("connection.created entityId=user_123"),
        "{}",
        from_start.1
    );

    let called = w.client.get("/v1/proxy/llm/v1/echo", &w.app_headers()).await;
    assert_eq!(called.status, 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let audit = json_of(&cli(server, &["audit", "list", "--project", project, "--json"], &[]));
        if audit["items"].as_array().is_some_and(|items| !items.is_empty()) {
            assert_eq!(audit["items"][0]["integration"], "llm");
            break;
        }
        assert!(Instant::now() < deadline, "no token use listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let table = cli(server, &["audit", "list", "--project", project], &[]);
    assert!(table.0 && table.1.starts_with("AT") && table.1.contains("llm"), "{}", table.1);

    let deadline = Instant::now() + Duration::from_secs(15);
    let delivery = loop {
        let listed = json_of(&cli(server, &["webhook", "deliveries", "--project", project, "--json"], &[]));
        if let Some(first) = listed["items"].as_array().and_then(|items| items.first()) {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "no delivery attempt listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(delivery["error"].is_string(), "the dead endpoint's attempt says why: {delivery}");
    let id = delivery["deliveryId"].as_str().unwrap();
    let retried = cli(server, &["webhook", "retry", "--project", project, id], &[]);
    assert!(retried.0 && retried.1.contains("queued again"), "{} {}", retried.1, retried.2);
}
