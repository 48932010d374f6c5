//! The README's first command as a newcomer runs it: `scripts/serve` in a fresh
//! clone, no flags, no `SECURIX_*` environment, the default relative data directory.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The address `securix serve` listens on when nothing says otherwise.
const DEFAULT_ADDRESS: &str = "127.0.0.1:8080";

/// Kills the whole process group (`cargo run` and the server it started) on drop.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("kill").args([signal, "--", &format!("-{}", self.0)]).status();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Builds SecuriX for release from scratch, so `scripts/test` runs it on its own
/// after the rest (`--ignored`): beside the other end-to-end tests, the build would
/// starve their timing.
#[tokio::test]
#[ignore = "a release build from a fresh clone: scripts/test runs it on its own"]
async fn the_readme_serve_command_works_from_a_fresh_clone() {
    assert!(
        std::net::TcpListener::bind(DEFAULT_ADDRESS).is_ok(),
        "{DEFAULT_ADDRESS} is taken: the README's command needs it free"
    );
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let clone = scratch.path().join("securix");
    let cloned =
        Command::new("git").args(["clone", "--quiet", "--no-hardlinks"]).arg(workspace).arg(&clone).status();
    assert!(cloned.unwrap().success(), "git clone of the workspace failed");

    // Only what any shell has, plus cargo's own build settings (the server sees no
    // setting of its own): this run's target directory and built plugins, and a
    // release profile that compiles in a third of the time (a full optimizing
    // build of everything would add some ten minutes to the suite).
    let mut command = Command::new("scripts/serve");
    command
        .current_dir(&clone)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for name in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    command
        .env("CARGO_TARGET_DIR", workspace.join("target"))
        .env("SECURIX_PLUGIN_TARGET_DIR", workspace.join("target").join("plugins"))
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256");
    let mut child = command.spawn().unwrap();
    let _group = Group(child.id());
    let log = crate::support::collect_lines(child.stderr.take().unwrap());
    let _printed = crate::support::collect_lines(child.stdout.take().unwrap());

    let base = format!("http://{DEFAULT_ADDRESS}");
    let client = reqwest::Client::new();
    // A release build may happen first.
    let deadline = Instant::now() + Duration::from_secs(30 * 60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("scripts/serve exited with {status}: {}", log.lock().unwrap().join("\n"));
        }
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "not ready in time: {}", log.lock().unwrap().join("\n"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(clone.join("securix-data/master.key").exists(), "the data lives in ./securix-data");
    assert!(clone.join("securix-data/plugin-cache").is_dir(), "the plugin cache sits in the data directory");
}
