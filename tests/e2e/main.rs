#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests against the real `securix` binary. One binary for all of them.

mod admin;
mod agents;
mod api;
mod catalog;
mod cli;
mod client;
mod cluster;
mod credentials;
mod demo;
mod first_run;
mod mesh_certs;
mod openapi;
mod pages;
mod peers;
#[path = "../../engine/tests/engine/support/postgres.rs"]
mod postgres;
mod proxy;
mod serve;
mod stores;
mod support;
mod telemetry;
mod webhooks;
