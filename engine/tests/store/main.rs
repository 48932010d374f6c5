#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The store conformance suite, run against every backend present, plus the redb
//! crash test. One test binary: each file in `tests/` would be another slow link.

mod conformance;
mod durability;
