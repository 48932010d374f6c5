//! `/openapi.json` of a running server, validated by an implementation independent
//! of the one that wrote it: `tests/node/validate-openapi.mjs`
//! (@apidevtools/swagger-parser, plus the rules it leaves out for OpenAPI 3).

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::process::Command;

use crate::support::Server;

/// Runs the validator on `source` (a URL or a file): whether it passed, and what it said.
async fn validate(source: &str) -> (bool, String, String) {
    let node = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
    let parser = node.join("node_modules/@apidevtools/swagger-parser");
    assert!(
        parser.exists(),
        "{} is missing: run scripts/setup test (npm ci in tests/node)",
        parser.display()
    );
    let output =
        Command::new("node").arg(node.join("validate-openapi.mjs")).arg(source).output().await.unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_is_valid_and_the_validator_refuses_a_broken_one() {
    let server = Server::start(&[]).await;
    let url = format!("{}/openapi.json", server.base_url);
    let (valid, stdout, stderr) = validate(&url).await;
    assert!(valid, "the validator refused /openapi.json: {stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["openapi"], "3.1.0", "{summary}");
    assert!(summary["operations"].as_u64().unwrap() >= 30, "{summary}");

    // The same document with a dangling reference: the validator must say no, or
    // its yes above means nothing.
    let mut document: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let schemas = document["components"]["schemas"].as_object_mut().unwrap();
    assert!(schemas.remove("Problem").is_some(), "the document has no Problem schema");
    let broken = server.data_dir.path().join("broken-openapi.json");
    std::fs::write(&broken, serde_json::to_vec(&document).unwrap()).unwrap();
    let (valid, _, stderr) = validate(path(&broken)).await;
    assert!(!valid, "the validator took a document whose Problem schema is gone");
    assert!(stderr.contains("Problem"), "{stderr}");
}

fn path(file: &Path) -> &str {
    file.to_str().unwrap()
}
