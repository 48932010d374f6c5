//! Starts a real `securix serve` on a free loopback port with its own data
//! directory, and stops it when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `securix` binary cargo built next to this test binary.
pub fn securix_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let binary = target_dir.join("securix");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --workspace` first (scripts/test does)",
        binary.display()
    );
    binary
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until the server at `base_url` answers `/readyz` with 200.
pub async fn wait_ready(base_url: &str) {
    // Generous: a full run starts a dozen nodes at once on two cores, each
    // compiling its plugins.
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        let answer = client.get(format!("{base_url}/readyz")).send().await;
        if answer.is_ok_and(|response| response.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("securix did not become ready at {base_url}");
}

pub struct Server {
    pub base_url: String,
    /// What the server printed on standard output, line by line, as it runs.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// What it logged on standard error.
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub data_dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    /// Starts a server with no configuration beyond a port and a data directory,
    /// plus `env`, and waits until `/readyz` answers 200.
    pub async fn start(env: &[(&str, &str)]) -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        Self::start_in(data_dir, env).await
    }

    pub async fn start_in(data_dir: tempfile::TempDir, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut command = Command::new(securix_binary());
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SECURIX_LISTEN", format!("127.0.0.1:{port}"))
            .env("SECURIX_DATA_DIR", data_dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stdout = collect_lines(child.stdout.take().unwrap());
        let stderr = collect_lines(child.stderr.take().unwrap());
        let server = Server { base_url: format!("http://127.0.0.1:{port}"), stdout, stderr, data_dir, child };
        wait_ready(&server.base_url).await;
        server
    }

    /// Freezes the process (SIGSTOP) or thaws it (SIGCONT): alive to the network,
    /// answering nothing.
    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// How the process ended, once it has (within `within`).
    pub async fn exit_status(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Stops the server and hands back its data directory (to restart on it).
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.data_dir, dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines `pipe` yields, gathered by a thread as they come.
pub fn collect_lines(
    pipe: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// Runs `securix serve` with `env` (and throwaway data dir and port), expecting it
/// to refuse to start; returns what it printed on standard error.
pub fn serve_refuses(env: &[(&str, &str)]) -> String {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(securix_binary());
    command.arg("serve").env("SECURIX_DATA_DIR", data_dir.path()).env("SECURIX_LISTEN", "127.0.0.1:0");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(!output.status.success(), "securix serve started although it should not");
    String::from_utf8_lossy(&output.stderr).into_owned()
}
