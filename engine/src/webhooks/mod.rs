//! Webhooks: Standard Webhooks with the asymmetric (`v1a`, ed25519) scheme, from a
//! durable outbox, at least once.
//!
//! - `signing`: the signature format and `verify` (from `securix-client`).
//! - `keyring.rs`: the signing keys, sealed by the vault; rotation signs with old
//!   and new side by side until the old one is retired.
//! - `endpoints.rs`: where a project wants its events.
//! - `delivery.rs`: the worker that drains the outbox of the shards this node owns.

pub mod delivery;
pub mod endpoints;
pub mod keyring;

/// Signing and verification live in the client crate, so apps verify with the
/// very code SecuriX signs with.
pub use securix_client::webhooks as signing;
