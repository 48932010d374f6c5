//! This crate only holds the end-to-end tests in `e2e/`; see `e2e/support.rs` for the
//! helper that starts a real server.
