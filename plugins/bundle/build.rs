//! Builds the first-party plugins for `wasm32-wasip2` with a nested cargo (in its
//! own target directory, so it never waits on the outer build's lock) and embeds
//! the components.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

const PLUGINS: &[&str] = &["google", "github", "microsoft", "dropbox", "slack", "oauth2"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().and_then(|p| p.parent()).expect("workspace root").to_path_buf();
    let target_dir = std::env::var("SECURIX_PLUGIN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target").join("plugins"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    for plugin in PLUGINS {
        // `cargo rustc` so the crate becomes a cdylib (a component) only for wasm;
        // host builds see the plugin crates as plain rlibs.
        let mut command = Command::new(&cargo);
        command
            .args([
                "rustc",
                "--profile",
                "plugin",
                "--target",
                "wasm32-wasip2",
                "--locked",
                "--quiet",
                "--crate-type",
                "cdylib",
            ])
            .args(["-p", &format!("securix-plugin-{plugin}")])
            .arg("--manifest-path")
            .arg(workspace.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            // A 64 KiB stack instead of 1 MiB: fewer pages to touch and reset per call.
            .args(["--", "-C", "link-arg=-zstack-size=65536"]);
        // The outer build's wrappers and flags (clippy, coverage) are not for the guests.
        for variable in [
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTC_WRAPPER",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
        ] {
            command.env_remove(variable);
        }
        let status = command.status().expect("cannot run cargo to build the plugins");
        if !status.success() {
            panic!(
                "building plugin {plugin} failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
            );
        }
    }

    let out = target_dir.join("wasm32-wasip2").join("plugin");
    let mut generated = String::from(
        "/// `(provider id, component bytes)` of every first-party plugin.\npub const FIRST_PARTY: &[(&str, &[u8])] = &[\n",
    );
    for plugin in PLUGINS {
        let wasm = out.join(format!("securix_plugin_{plugin}.wasm"));
        assert!(wasm.exists(), "{} was not built", wasm.display());
        generated.push_str(&format!("    ({plugin:?}, include_bytes!({:?})),\n", wasm.display().to_string()));
    }
    generated.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out_dir.join("first_party.rs"), generated).expect("write first_party.rs");

    println!("cargo:rerun-if-changed={}", workspace.join("sdk-plugin").display());
    for plugin in PLUGINS {
        println!("cargo:rerun-if-changed={}", workspace.join("plugins").join(plugin).display());
    }
    println!("cargo:rerun-if-env-changed=SECURIX_PLUGIN_TARGET_DIR");
}
