//! The key layout of every record, in one place so that subspaces never collide.
//!
//! ```text
//! ("project", p)                                   project
//! ("project", p, "access_epoch")                 counter: writes to keys, agents, integrations
//! ("project", p, "api_key", key_id)                API key (hash and prefix only)
//! ("project", p, "agent", agent_id)                agent
//! ("project", p, "integration", key)               integration (client secret sealed)
//! ("project", p, "entity", e, …)                   an entity: no record of its own, the keys below
//! ("project", p, "entity", e, "access_epoch")    counter: writes to the entity's connections
//! ("project", p, "entity", e, "conn", c)           connection (tokens sealed)
//! ("project", p, "entity", e, "account", i, a)     index: provider account -> connection id
//! ("project", p, "event", seq)                     event log, in commit order per project
//! ("project", p, "event_seq")                      the project's event counter
//! ("session", s)                                   auth session
//! ("index", "api_key_hash", sha256)                index: API key hash -> (project, key id)
//! ("index", "device_code", code)                   index: device code -> session id
//! ("index", "project", p)                          index: every project, for its listing
//! ("index", "project_session", p, MAX-created, s)  index: a project's sessions, newest first
//! ("outbox", shard, event_id)                      webhook deliveries owed, per shard
//! ("outbox_due", shard, p, due_ms, event_id)       index: what is due, per project, oldest first
//! ("vault", "keyring")                             the vault's wrapped keys
//! ```

use sha2::{Digest, Sha256};

use crate::store::{Subspace, pack};

/// The number of shards keys are spread over (fixed for the life of a cluster).
pub const SHARDS: u32 = 64;

pub fn project(project_id: &str) -> Vec<u8> {
    pack(&("project", project_id))
}

pub fn project_space(project_id: &str) -> Subspace {
    Subspace::all().subspace(&("project", project_id))
}

pub fn entity_space(project_id: &str, entity_id: &str) -> Subspace {
    project_space(project_id).subspace(&("entity", entity_id))
}

pub fn session(session_id: &str) -> Vec<u8> {
    pack(&("session", session_id))
}

pub fn index(name: &str) -> Subspace {
    Subspace::all().subspace(&("index", name))
}

pub fn outbox(shard: u32) -> Subspace {
    Subspace::all().subspace(&("outbox", shard))
}

/// The shard that owns an entity's state and events: stable across nodes and
/// releases (SHA-256, not the std hasher).
pub fn shard_of(project_id: &str, entity_id: &str) -> u32 {
    let digest = Sha256::digest(pack(&(project_id, entity_id)));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(SHARDS)) as u32
}
