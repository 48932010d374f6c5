//! The embeddable SecuriX engine: the store, the vault, the provider plugin host,
//! the actors, the auth flows and the proxy core. No HTTP server lives here.
//!
//! Start at [`Engine::builder`]; `examples/device_flow.rs` runs a whole device flow
//! with nothing but this crate.

mod actors;
pub mod admin;
mod audit_log;
pub mod clock;
pub mod connections;
mod engine;
pub mod epoch_cache;
mod error;
pub mod flows;
pub mod http_client;
pub mod model;
pub mod oauth;
pub mod placement;
pub mod plugins;
pub mod policy;
pub mod proxy;
mod proxy_plan;
pub mod region;
pub mod secret;
pub mod store;
pub mod vault;
pub mod webhooks;

pub use admin::Principal;
pub use engine::{Engine, EngineBuilder, EngineSettings};
pub use error::{EngineError, EngineResult};
