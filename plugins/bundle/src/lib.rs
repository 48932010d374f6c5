//! The first-party provider plugins (`google`, `github`, `microsoft`, `dropbox`,
//! `slack`, `oauth2`), built by `build.rs` and embedded as wasm components.

include!(concat!(env!("OUT_DIR"), "/first_party.rs"));
