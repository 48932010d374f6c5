//! Real third-party peers on loopback: `oauth2-mock-server` (npm), an OAuth 2.0 /
//! OIDC server that approves every authorization request.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

impl Drop for MockOAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
