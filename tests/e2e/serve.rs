//! `securix serve` with no configuration: an embedded store, a generated private
//! master key, and health endpoints.

use crate::support::Server;

#[tokio::test]
async fn serve_runs_with_no_configuration_and_keeps_its_key() {
    let server = Server::start(&[]).await;
    let health = reqwest::get(format!("{}/healthz", server.base_url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let key_file = server.data_dir.path().join("master.key");
    assert!(server.data_dir.path().join("securix.redb").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the generated master key must be private");
    }
    let key_before = std::fs::read(&key_file).unwrap();
    let printed = server.stdout.lock().unwrap().join("\n");
    for plugin in
        ["google@0.2.0", "github@0.2.0", "microsoft@0.2.0", "dropbox@0.2.0", "slack@0.2.0", "oauth2@0.2.0"]
    {
        assert!(printed.contains(plugin), "the bundled plugin {plugin} is loaded: {printed}");
    }

    // A restart on the same directory reuses the key and opens the same keyring.
    let dir = server.stop();
    let server = Server::start_in(dir, &[]).await;
    assert_eq!(std::fs::read(server.data_dir.path().join("master.key")).unwrap(), key_before);
}

/// A plugin file that cannot run, or that takes an id already taken, is left out:
/// the server starts with the others, says so at start, on `/readyz` and in
/// `GET /v1/providers`, and a call that needs it answers 503 naming it (#29).
#[tokio::test]
async fn bad_plugin_files_are_left_out_and_reported_and_the_server_runs() {
    let plugins = tempfile::tempdir().unwrap();
    let (_, slack) = securix_plugins::FIRST_PARTY.iter().find(|(id, _)| *id == "slack").unwrap();
    std::fs::write(plugins.path().join("slack-again.wasm"), slack).unwrap();
    std::fs::write(plugins.path().join("broken.wasm"), b"definitely not wasm").unwrap();
    let dir = plugins.path().to_str().unwrap();
    let admin_token = "admin-token-for-plugins-0123456789";
    let server = Server::start(&[("SECURIX_PLUGINS_DIR", dir), ("SECURIX_ADMIN_TOKEN", admin_token)]).await;
    let printed = server.stdout.lock().unwrap().join("\n");
    assert!(printed.contains("loaded 6 provider plugins"), "{printed}");
    assert!(printed.contains("broken.wasm") && printed.contains("PL0007"), "{printed}");
    assert!(
        printed.contains("slack-again.wasm") && printed.contains("SECURIX_PLUGIN_OVERRIDES"),
        "{printed}"
    );

    let ready = reqwest::get(format!("{}/readyz", server.base_url)).await.unwrap();
    assert_eq!(ready.status(), 200, "one bad file does not take the node out");
    let ready = ready.text().await.unwrap();
    assert!(ready.contains("plugin broken unavailable: PL0007"), "{ready}");
    assert!(!ready.contains(dir), "no server path on an unauthenticated page: {ready}");

    let client = reqwest::Client::new();
    let admin = |path: &str| {
        client.post(format!("{}{path}", server.base_url)).header("securix-admin-token", admin_token)
    };
    let project: serde_json::Value = admin("/v1/admin/projects")
        .json(&serde_json::json!({"name": "p"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project_id = project["projectId"].as_str().unwrap();
    let key: serde_json::Value = admin(&format!("/v1/admin/projects/{project_id}/api-keys"))
        .json(&serde_json::json!({"name": "backend"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_key = key["apiKey"].as_str().unwrap();
    let providers: serde_json::Value = client
        .get(format!("{}/v1/providers", server.base_url))
        .header("securix-api-key", api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let broken = providers.as_array().unwrap().iter().find(|p| p["id"] == "broken").unwrap();
    assert_eq!(broken["status"], "unavailable");
    assert!(broken["reason"].as_str().unwrap().starts_with("PL0007"), "{broken}");
    let slack_entry = providers.as_array().unwrap().iter().find(|p| p["id"] == "slack").unwrap();
    assert_eq!(slack_entry["status"], "loaded");

    let put = client
        .put(format!("{}/v1/admin/projects/{project_id}/integrations/broken", server.base_url))
        .header("securix-admin-token", admin_token)
        .json(&serde_json::json!({"provider": "broken", "clientId": "c", "clientSecret": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 503);
    let problem: serde_json::Value = put.json().await.unwrap();
    assert!(problem["type"].as_str().unwrap().ends_with("/problems/plugin-unavailable"), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("broken"), "{problem}");
    drop(server);

    // The operator's word lets a file replace a first-party plugin.
    std::fs::remove_file(plugins.path().join("broken.wasm")).unwrap();
    let server = Server::start(&[("SECURIX_PLUGINS_DIR", dir), ("SECURIX_PLUGIN_OVERRIDES", "slack")]).await;
    let printed = server.stdout.lock().unwrap().join("\n");
    assert!(!printed.contains("left out"), "{printed}");
    let logged = server.stderr.lock().unwrap().join("\n");
    assert!(logged.contains("replaces the first-party plugin"), "{logged}");
}

#[tokio::test]
async fn a_master_key_from_the_environment_wins_and_a_bad_one_is_refused() {
    let key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
    let server = Server::start(&[("SECURIX_MASTER_KEY", key)]).await;
    assert!(
        !server.data_dir.path().join("master.key").exists(),
        "no key file when the environment gives one"
    );
    drop(server);

    let stderr = crate::support::serve_refuses(&[("SECURIX_MASTER_KEY", "too-short")]);
    assert!(stderr.contains("SECURIX_MASTER_KEY") && stderr.contains("VA0002"), "{stderr}");
    assert!(!stderr.contains("too-short"), "the bad key itself is not echoed");
}

#[tokio::test]
async fn a_config_file_sets_what_the_environment_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("securix.toml");
    let key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
    std::fs::write(
        &path,
        format!("admin_token = \"from-the-file-0123456789\"\nmaster_key = \"{key}\"\npublic_url = \"https://auth.example\"\n"),
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let server = Server::start(&[("SECURIX_CONFIG", config)]).await;
    let client = reqwest::Client::new();
    let create = |server: &Server, token: &'static str| {
        client
            .post(format!("{}/v1/admin/projects", server.base_url))
            .header("securix-admin-token", token)
            .json(&serde_json::json!({"name": "p"}))
            .send()
    };
    assert_eq!(create(&server, "from-the-file-0123456789").await.unwrap().status(), 201);
    assert!(!server.data_dir.path().join("master.key").exists(), "the file's master key is used");
    drop(server);

    // The environment wins over the file.
    let server =
        Server::start(&[("SECURIX_CONFIG", config), ("SECURIX_ADMIN_TOKEN", "from-the-env-0123456789")])
            .await;
    assert_eq!(create(&server, "from-the-env-0123456789").await.unwrap().status(), 201);
    assert_eq!(create(&server, "from-the-file-0123456789").await.unwrap().status(), 401);
    drop(server);

    std::fs::write(&path, "listen = \"127.0.0.1:0\"\nadmin_tokn = \"typo\"\n").unwrap();
    let stderr = crate::support::serve_refuses(&[("SECURIX_CONFIG", config)]);
    assert!(stderr.contains("securix.toml") && stderr.contains("admin_tokn"), "{stderr}");
}

/// API.md's mesh settings on a node of its own (the embedded store) are accepted,
/// named as unused in the log, and the cookie (a secret) is never printed.
#[tokio::test]
async fn mesh_settings_on_a_lone_node_are_named_as_unused_and_the_cookie_is_never_logged() {
    let cookie = "mesh-cookie-must-not-leak-0123456789";
    let server =
        Server::start(&[("SECURIX_CLUSTER_COOKIE", cookie), ("SECURIX_CLUSTER_SEEDS", "10.0.0.2:4000")])
            .await;
    let health = reqwest::get(format!("{}/healthz", server.base_url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let logged =
        [server.stdout.lock().unwrap().join("\n"), server.stderr.lock().unwrap().join("\n")].concat();
    assert!(logged.contains("SECURIX_CLUSTER_SEEDS or SECURIX_CLUSTER_COOKIE is set but unused"), "{logged}");
    assert!(logged.contains("store is not shared"), "{logged}");
    assert!(!logged.contains(cookie), "the cookie was logged: {logged}");
}

/// A soft open-file limit below the hard one (a shell's 1,024, say) is raised to it
/// at start: every connection is a file.
#[tokio::test]
async fn serve_raises_its_soft_open_file_limit_to_the_hard_one() {
    let data_dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let mut server = std::process::Command::new("sh")
        .args(["-c", r#"ulimit -Sn 256 && exec "$0" serve"#])
        .arg(crate::support::securix_binary())
        .env("SECURIX_LISTEN", format!("127.0.0.1:{port}"))
        .env("SECURIX_DATA_DIR", data_dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::support::wait_ready(&format!("http://127.0.0.1:{port}")).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.id())).unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let line = limits.lines().find(|line| line.starts_with("Max open files")).unwrap();
    let (soft, hard) = match line.split_whitespace().collect::<Vec<_>>()[..] {
        [_, _, _, soft, hard, ..] => (soft.to_owned(), hard.to_owned()),
        _ => panic!("{line}"),
    };
    let expected = if hard == "unlimited" { (1u64 << 20).to_string() } else { hard };
    assert_eq!(soft, expected, "{line}");
}
