//! Real third-party peers on loopback: `oauth2-mock-server` (npm), an OAuth 2.0 /
//! OIDC server that approves every authorization request.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct MockOAuth {
    pub base_url: String,
    child: Child,
}

impl MockOAuth {
    pub async fn start() -> MockOAuth {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node/node_modules/.bin/oauth2-mock-server");
        assert!(bin.exists(), "{} is missing: run scripts/setup test (npm ci in tests/node)", bin.display());
        let port = crate::support::free_port();
        let child = Command::new(bin)
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mock = MockOAuth { base_url: format!("http://localhost:{port}"), child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = reqwest::get(format!("{}/.well-known/openid-configuration", mock.base_url)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return mock;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("oauth2-mock-server did not start");
    }
}

/// `oauth2-mock-server` issuing access tokens of `ttl` seconds, counting the
/// refreshes it serves (`tests/node/short-lived-tokens.mjs`).
pub struct ShortLivedOAuth {
    pub base_url: String,
    refreshes: Arc<AtomicUsize>,
    child: Child,
}

impl ShortLivedOAuth {
    pub async fn start(ttl_seconds: u64) -> ShortLivedOAuth {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node/short-lived-tokens.mjs");
        let port = crate::support::free_port();
        let mut child = Command::new("node")
            .arg(script)
            .args([port.to_string(), ttl_seconds.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (refreshes, ready) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (counted, started) = (refreshes.clone(), ready.clone());
        let stdout = child.stdout.take().unwrap();
        // Reads to the end, so the child never writes into a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match line.trim() {
                    "refresh" => counted.fetch_add(1, Ordering::SeqCst),
                    "ready" => started.fetch_add(1, Ordering::SeqCst),
                    _ => 0,
                };
            }
        });
        let mock = ShortLivedOAuth { base_url: format!("http://localhost:{port}"), refreshes, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while ready.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "short-lived-tokens.mjs did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        mock
    }

    pub fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }
}

impl Drop for ShortLivedOAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MockOAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON lines a Node peer printed so far.
pub type Lines = Arc<Mutex<Vec<serde_json::Value>>>;

/// A Node peer's process, ended when dropped (a failed test must not leave it).
pub struct NodePeer(Child);

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `tests/node/SCRIPT` with `args` and collects the JSON lines it prints; the
/// first says it listens.
pub async fn node_peer(script: &str, args: &[&str]) -> (NodePeer, Lines) {
    try_node_peer(script, args).await.expect("the Node peer did not start")
}

/// `node_peer`, or `None` when the peer exits before it says it listens (its port
/// taken by another test meanwhile, say), so the caller may try another port.
pub async fn try_node_peer(script: &str, args: &[&str]) -> Option<(NodePeer, Lines)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node").join(script);
    let mut child = Command::new("node").arg(script).args(args).stdout(Stdio::piped()).spawn().unwrap();
    let lines: Lines = Arc::default();
    let collected = lines.clone();
    let stdout = child.stdout.take().unwrap();
    let mut peer = NodePeer(child);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line) {
                collected.lock().unwrap().push(value);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.lock().unwrap().is_empty() {
        if Instant::now() > deadline || peer.0.try_wait().ok().flatten().is_some() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((peer, lines))
}
