#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The engine's integration tests. One test binary: each file in `tests/` would be
//! another slow link.

mod architecture;
mod bench_statistics;
mod conformance;
mod durability;
mod flows;
mod hostile;
mod plugin_host;
#[cfg(feature = "postgres")]
mod postgres_schema;
mod providers;
mod records;
mod support;
mod webhooks;
