//! Test helpers: a scripted HTTP peer and the test plugins' builder.

pub mod scripted;
pub mod test_plugins;
