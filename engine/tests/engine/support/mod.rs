//! Test helpers: a scripted HTTP peer and the test plugins' builder.

pub mod counting_store;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod scripted;
pub mod test_plugins;
