//! The embeddable SecuriX engine: the store, the vault, the provider plugin host,
//! the actors, the auth flows and the proxy core. No HTTP server lives here.
//!
//! Start at [`Engine::builder`]; `examples/device_flow.rs` runs a whole device flow
//! with nothing but this crate.

mod actors;
pub mod admin;
pub mod auth;
pub mod catalog;
pub mod credentials;
mod engine;
mod error;
pub mod flows;
pub mod http_client;
pub mod model;
pub mod plugins;
pub mod policy;
mod providers;
pub mod proxy;
mod remote_mcp;
pub mod sharding;
pub mod store;
pub mod tokens;
pub mod util;
pub mod vault;
pub mod webhooks;

pub use auth::Principal;
pub use engine::{Engine, EngineBuilder, EngineSettings};
pub use error::{EngineError, EngineResult, InternalError, UserAsked};
