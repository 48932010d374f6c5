#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A real PostgreSQL for tests: `DATABASE_URL` when given, otherwise a private server
//! started here (initdb in a temporary directory, a free port; as the `postgres` user
//! when the tests run as root, since initdb refuses root) and stopped on drop.
//! Shared with the cluster tests (`tests/e2e`) through `#[path]`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    pub url: String,
    /// The directory, the data directory in it, and the process that started the server.
    server: Option<(tempfile::TempDir, PathBuf, Child)>,
}

impl Postgres {
    pub fn start() -> Postgres {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Postgres { url, server: None };
        }
        let bin = binaries()
            .expect("PostgreSQL is not installed: run scripts/setup test (Debian package postgresql)");
        let dir = tempfile::Builder::new().prefix("securix-pg-").tempdir().unwrap();
        let data = dir.path().join("data");
        let as_root = running_as_root();
        if as_root {
            // initdb refuses root: the server's files belong to the postgres user.
            let status = Command::new("chown").args(["postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(status.success(), "chown postgres failed");
        }
        let initdb = run_as_postgres(as_root, &bin.join("initdb"))
            .args(["-A", "trust", "-U", "securix", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(initdb.status.success(), "initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));
        let port = free_port();
        let mut server = run_as_postgres(as_root, &bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("unix_socket_directories={}", dir.path().display()))
            .args([
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
                "-c",
                "max_pred_locks_per_transaction=256",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Stopped through its pid file: under runuser, the child is not the postmaster.
        let child = server.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready(&bin, port) {
            assert!(Instant::now() < deadline, "PostgreSQL did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Postgres {
            url: format!("postgres://securix@127.0.0.1:{port}/postgres"),
            server: Some((dir, data, child)),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let Some((_dir, data, child)) = &mut self.server else { return };
        // SIGINT: PostgreSQL's fast shutdown.
        if let Ok(pid_file) = std::fs::read_to_string(data.join("postmaster.pid"))
            && let Some(pid) = pid_file.lines().next()
        {
            let _ = Command::new("kill").args(["-INT", pid.trim()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while data.join("postmaster.pid").exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The newest installed PostgreSQL's bin directory.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn run_as_postgres(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn ready(bin: &Path, port: u16) -> bool {
    Command::new(bin.join("pg_isready"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "securix", "-d", "postgres"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
