//! `securix demo`: one command gives a newcomer SecuriX, a local OAuth provider and a
//! demo app; both flows work end to end with no credentials and no configuration.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;

use crate::api::{Answer, Client, enter_code, open_page};
use crate::support::{free_port, securix_binary};

/// From SecuriX's consent page through the demo provider's approval to the callback.
async fn approve_at_the_demo_provider(securix: &Client, session_id: &str, cookie: Option<&str>) -> Answer {
    let open = open_page(securix, &format!("/connect/{session_id}"), cookie).await;
    let consent =
        open.post(securix, &format!("/connect/{session_id}/authorize"), &[("integration", "demo")]).await;
    assert_eq!(consent.status, 303, "{}", consent.text);
    let authorize_url = reqwest::Url::parse(&consent.location()).unwrap();
    let page = securix.get(authorize_url.as_str(), &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Demo Provider") && page.text.contains("Approve"), "{}", page.text);
    let query: std::collections::HashMap<String, String> = authorize_url.query_pairs().into_owned().collect();
    let mut form = reqwest::Url::parse("http://x/").unwrap();
    form.query_pairs_mut()
        .append_pair("redirect_uri", &query["redirect_uri"])
        .append_pair("state", &query["state"])
        .append_pair("scope", query.get("scope").map(String::as_str).unwrap_or_default())
        .append_pair("code_challenge", query.get("code_challenge").map(String::as_str).unwrap_or_default())
        .append_pair("user", "Grace Hopper")
        .append_pair("decision", "approve");
    let approved = securix
        .send(
            Method::POST,
            &authorize_url.as_str().replace(&format!("?{}", authorize_url.query().unwrap()), ""),
            &[],
            Some(form.query().unwrap().as_bytes().to_vec()),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    let done = securix.get(&approved.location(), &[("cookie", open.cookie.as_str())]).await;
    assert_eq!(done.status, 200, "{}", done.text);
    done
}

/// The demo process, killed if the test fails before it is stopped.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_both_flows_with_no_credentials() {
    let port = free_port();
    let mut demo = Demo(
        Command::new(securix_binary())
            .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("SECURIX_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut demo.0;
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let app_url = stdout
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split("Open ").nth(1)?.split_whitespace().next().map(str::to_owned))
        .expect("the demo prints the app's URL");
    // Keep reading: a closed pipe would fail the demo's next line of output.
    std::thread::spawn(move || stdout.for_each(drop));
    let securix = Client::new(&format!("http://127.0.0.1:{port}"));
    let app = Client::new(&app_url);

    let home = app.get("/", &[]).await;
    assert_eq!(home.status, 200);
    assert!(home.text.contains("Connect Securely") && home.text.contains("/sdk/securix.js"));
    let csp = home.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains(&securix.base) && csp.contains("frame-ancestors 'none'"), "{csp}");

    // The device flow.
    let device = app.send(Method::POST, "/api/device", &[], None, None).await.json();
    let (session_id, cookie) = enter_code(&securix, device["deviceAuthCode"].as_str().unwrap()).await;
    approve_at_the_demo_provider(&securix, &session_id, Some(&cookie)).await;
    let status = app.get(&format!("/api/securix/status?sessionId={session_id}&wait=5"), &[]).await.json();
    assert_eq!(status["status"], "completed", "{status}");
    let connections = app.get("/api/connections", &[]).await.json();
    assert_eq!(connections[0]["account"]["email"], "gracehopper@demo.securix.invalid", "{connections}");
    let whoami = app.get("/api/whoami", &[]).await;
    assert_eq!(whoami.status, 200, "{}", whoami.text);
    assert_eq!(whoami.json()[0]["userinfo"]["sub"], "demo|gracehopper", "{}", whoami.text);

    // The popup flow, as the browser SDK drives it.
    let sxc = securix_engine::flows::oauth::pkce::random_token().expose().to_owned();
    let challenge = securix_engine::flows::oauth::pkce::s256(&sxc);
    let init = app.json(Method::POST, "/api/securix/init", &[], json!({ "sxcChallenge": challenge })).await;
    assert_eq!(init.status, 201, "{}", init.text);
    let session_id = init.json()["sessionId"].as_str().unwrap().to_owned();
    let done = approve_at_the_demo_provider(&securix, &session_id, None).await;
    assert!(done.text.contains("postMessage"), "the popup reports to the app page");
    let confirm = json!({ "sessionId": session_id, "sxc": sxc });
    let confirmed = app.json(Method::POST, "/api/securix/confirm", &[], confirm.clone()).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let replayed = app.json(Method::POST, "/api/securix/confirm", &[], confirm).await;
    assert_eq!(replayed.status, 403, "{}", replayed.text);

    // SIGTERM ends the demo cleanly and removes its temporary data.
    let data_dir = std::env::temp_dir().join(format!("securix-demo-{}", child.id()));
    assert!(data_dir.exists());
    let signalled = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(signalled.success());
    assert!(child.wait().unwrap().success());
    assert!(!data_dir.exists(), "the demo cleans up after itself");
}
