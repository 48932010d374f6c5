//! Builds the test-only plugins (`tests/plugins/`: hostile, a third party's, a
//! wrong WIT version) once per test run, as a plugin author would: a standalone
//! cargo project built for wasm32-wasip2.

use std::path::PathBuf;
use std::sync::OnceLock;

static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn build() -> Result<PathBuf, String> {
    let engine_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let project = engine_dir.join("tests").join("plugins");
    let target_dir = engine_dir.parent().unwrap().join("target").join("test-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("building tests/plugins failed".into());
    }
    Ok(target_dir.join("wasm32-wasip2").join("release"))
}

/// The component bytes of test plugin `name` (`hostile`, `acme`, `wrong_wit`).
pub fn wasm(name: &str) -> Vec<u8> {
    let dir = BUILT.get_or_init(build).as_ref().unwrap();
    std::fs::read(dir.join(format!("{name}.wasm"))).unwrap()
}
