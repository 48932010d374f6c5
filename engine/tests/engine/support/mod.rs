//! Test helpers: a scripted HTTP peer and the test plugins' builder.

#[path = "../../../benches/support/backlog.rs"]
pub mod backlog;
pub mod counting_store;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod scripted;
pub mod test_plugins;
