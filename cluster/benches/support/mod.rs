//! What the server benchmarks share: starting `securix`, provisioning a project
//! with a connection, and driving keep-alive HTTP/1.1 load at it.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

#[path = "../../../engine/benches/support/keepalive.rs"]
mod keepalive;
#[path = "../../../engine/benches/support/median.rs"]
pub mod median;
pub mod relay;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
pub const LATENCY_SAMPLES: usize = 5000;
pub const WARMUP: usize = 500;

/// The provider on loopback: a token endpoint that grants anything (a day-long
/// token), userinfo, and a 1 KB JSON answer on every other path.
pub async fn upstream() -> Result<String, Error> {
    let api_body = format!("{{\"data\":\"{}\"}}", "x".repeat(1000));
    Ok(keepalive::serve(move |path| match path {
        "/token" => r#"{"access_token":"bench-at","refresh_token":"bench-rt","expires_in":86400,"token_type":"Bearer"}"#.to_owned(),
        "/userinfo" => r#"{"sub":"bench-user"}"#.to_owned(),
        _ => api_body.clone(),
    })
    .await?)
}

/// `upstream()` in a thread of its own on CPU 1, beside SecuriX and nginx; answers
/// its base URL.
pub fn upstream_on_cpu1() -> Result<String, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (started, address) = std::sync::mpsc::channel();
    std::thread::Builder::new().name("bench-upstream-cpu1".into()).spawn(move || {
        pin_thread_to_cpu1();
        runtime.block_on(async move {
            let _ = started.send(upstream().await.map_err(|error| error.to_string()));
            std::future::pending::<()>().await
        })
    })?;
    Ok(address.recv()??)
}

/// Moves the calling thread to CPU 1 (threads it starts later follow it).
pub fn pin_thread_to_cpu1() {
    let mut cpu1 = rustix::thread::CpuSet::new();
    cpu1.set(1);
    let _ = rustix::thread::sched_setaffinity(None, &cpu1);
}

/// Seconds per throughput run: `default`, or `SECURIX_BENCH_SECONDS` (e.g. to profile).
pub fn load_seconds(default: u64) -> u64 {
    std::env::var("SECURIX_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

pub fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A child process stopped when dropped: SIGTERM first, so nginx's master takes its
/// workers down with it (SIGKILL would orphan them), then SIGKILL if it lingers.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A command on CPU 1 when `taskset` is there.
pub fn on_cpu1(program: &str) -> Command {
    if has("taskset") {
        let mut command = Command::new("taskset");
        command.args(["-c", "1", program]);
        command
    } else {
        Command::new(program)
    }
}

pub fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `securix serve` with its data under `dir` and `env` on top of the bench's
/// settings; on CPU 1 when `pinned`.
pub async fn start_securix(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    pinned: bool,
) -> Result<(String, Process), Error> {
    let bin = std::env::var("SECURIX_BIN")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/securix").to_owned());
    start_build(&bin, dir, env, pinned).await
}

/// `start_securix` with the binary `bin`.
pub async fn start_build(
    bin: &str,
    dir: &std::path::Path,
    env: &[(&str, &str)],
    pinned: bool,
) -> Result<(String, Process), Error> {
    if !std::path::Path::new(bin).exists() {
        return Err(format!("{bin} is missing: cargo build --release -p securix-cluster").into());
    }
    let port = free_port()?;
    let mut command = if pinned { on_cpu1(bin) } else { Command::new(bin) };
    let child = command
        .arg("serve")
        .envs(env.iter().copied())
        .env("SECURIX_LISTEN", format!("127.0.0.1:{port}"))
        .env("SECURIX_DATA_DIR", dir.join("securix"))
        .env("SECURIX_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SECURIX_ALLOW_LOOPBACK_HTTP", "1")
        .env("SECURIX_LOG", "warn")
        .stdout(Stdio::null())
        // The server's warnings, for when a run fails: <temp dir>/securix-bench-PORT.log.
        .stderr(std::fs::File::create(std::env::temp_dir().join(format!("securix-bench-{port}.log")))?)
        .spawn()?;
    let process = Process(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{url}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
        if Instant::now() > deadline {
            return Err("securix did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((url, process))
}

/// A project, an API key, an agent, the upstream as an integration, and a connection
/// for entity `e1` made through the device flow (the upstream's token endpoint
/// accepts any code). Answers the API key.
pub async fn provision(securix: &str, upstream: &str) -> Result<String, Error> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let admin = |method: reqwest::Method, path: String, body: serde_json::Value| {
        http.request(method, format!("{securix}{path}"))
            .header("securix-admin-token", ADMIN_TOKEN)
            .json(&body)
            .send()
    };
    let project: serde_json::Value =
        admin(reqwest::Method::POST, "/v1/admin/projects".into(), serde_json::json!({"name": "Bench"}))
            .await?
            .json()
            .await?;
    let project = project["projectId"].as_str().ok_or("no project")?.to_owned();
    let key: serde_json::Value = admin(
        reqwest::Method::POST,
        format!("/v1/admin/projects/{project}/api-keys"),
        serde_json::json!({"name": "bench"}),
    )
    .await?
    .json()
    .await?;
    let api_key = key["apiKey"].as_str().ok_or("no key")?.to_owned();
    admin(
        reqwest::Method::POST,
        format!("/v1/admin/projects/{project}/agents"),
        serde_json::json!({"agentId": "agent"}),
    )
    .await?;
    let integration = serde_json::json!({
        "provider": "oauth2", "clientId": "c", "clientSecret": "bench-client-secret",
        "config": {
            "authorizationEndpoint": format!("{upstream}/authorize"), "tokenEndpoint": format!("{upstream}/token"),
            "userinfoEndpoint": format!("{upstream}/userinfo"), "apiBaseUrl": format!("{upstream}/api"),
        }
    });
    let put =
        admin(reqwest::Method::PUT, format!("/v1/admin/projects/{project}/integrations/up"), integration)
            .await?;
    if !put.status().is_success() {
        return Err(format!("integration: {}", put.text().await?).into());
    }
    let session: serde_json::Value = http
        .post(format!("{securix}/v1/sessions"))
        .header("securix-api-key", &api_key)
        .header("securix-agent-id", "agent")
        .json(&serde_json::json!({"entityId": "e1", "flow": "device", "providers": {"up": {}}}))
        .send()
        .await?
        .json()
        .await?;
    let code = session["deviceAuthCode"].as_str().ok_or("no code")?;
    // The pages are bound to a browser: its cookie, and forms that carry its CSRF token.
    let page = http.get(format!("{securix}/device")).send().await?;
    let cookie = page.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let page = page.text().await?;
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next());
    let csrf = csrf.ok_or("no csrf token on the device page")?.to_owned();
    let entered = http
        .post(format!("{securix}/device"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("code={code}&csrf={csrf}"))
        .send()
        .await?;
    let consent =
        entered.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let authorize = http
        .post(format!("{securix}{consent}/authorize"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("integration=up&csrf={csrf}"))
        .send()
        .await?;
    let location = authorize.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let state = location.split(['?', '&']).find_map(|p| p.strip_prefix("state=")).ok_or("no state")?;
    let done = http
        .get(format!("{securix}/oauth/callback?state={state}&code=bench-code"))
        .header("cookie", &cookie)
        .send()
        .await?;
    if !done.status().is_success() {
        return Err(format!("callback: {}", done.status()).into());
    }
    Ok(api_key)
}

#[derive(Clone)]
pub struct Target {
    pub address: String,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
}

pub async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, Error> {
    let stream = tokio::net::TcpStream::connect(&target.address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One request; fails on anything but a 2xx.
pub async fn call(sender: &mut SendRequest<Full<Bytes>>, target: &Target, body: &Bytes) -> Result<(), Error> {
    let mut request = Request::post(&target.path).header("host", &target.address);
    for (name, value) in &target.headers {
        request = request.header(*name, value);
    }
    sender.ready().await?;
    let response = sender.send_request(request.body(Full::new(body.clone()))?).await?;
    let status = response.status();
    let answer = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(format!("{} answered {status}: {}", target.path, String::from_utf8_lossy(&answer)).into());
    }
    Ok(())
}

/// p50 and p99 in microseconds of each target over a connection of its own. The
/// targets take turns call by call, so a slow spell of the host touches them alike.
pub async fn latency(targets: &[&Target], body: &Bytes) -> Result<Vec<(f64, f64)>, Error> {
    let mut senders = Vec::with_capacity(targets.len());
    for target in targets {
        senders.push(connect(target).await?);
    }
    let mut samples = vec![Vec::with_capacity(LATENCY_SAMPLES); targets.len()];
    for round in 0..WARMUP + LATENCY_SAMPLES {
        for ((target, sender), samples) in targets.iter().zip(&mut senders).zip(&mut samples) {
            let started = Instant::now();
            call(sender, target, body).await?;
            if round >= WARMUP {
                samples.push(started.elapsed());
            }
        }
    }
    Ok(samples.into_iter().map(p50_p99).collect())
}

pub fn p50_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// Requests per second over `connections` connections, each sending back to back
/// for `seconds`, spread evenly over `targets`.
pub async fn throughput(
    seconds: u64,
    targets: &[Target],
    body: &Bytes,
    connections: usize,
) -> Result<f64, Error> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..connections {
        let target = &targets[i % targets.len()];
        let mut sender = connect(target).await?;
        let (target, body) = (target.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                call(&mut sender, &target, &body).await?;
                done += 1;
            }
            Ok::<u64, Error>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
