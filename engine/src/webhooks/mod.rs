//! Webhooks: Standard Webhooks with the asymmetric (`v1a`, ed25519) scheme, from a
//! durable outbox, at least once.
//!
//! - `signing`: the signature format and `verify` (from `securix-client`).
//! - `keyring.rs`: the signing keys, sealed by the vault; rotation signs with old
//!   and new side by side until the old one is retired.
//! - `endpoints.rs`: where a project wants its events.
//! - `delivery.rs`: the rounds that deliver the due outbox entries of the shards
//!   this node owns, and what an attempt's outcome does to the entry.
//! - `dispatch.rs`: the bounds on deliveries at once (overall, per endpoint) and
//!   each endpoint's circuit.

pub mod delivery;
pub mod dispatch;
pub mod endpoints;
pub mod keyring;

/// Signing and verification live in the client crate, so apps verify with the
/// very code SecuriX signs with.
pub use securix_client::webhooks as signing;
