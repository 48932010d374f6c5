//! Agent tokens (`sxa_…`, `secret_token`'s shape): a short-lived bearer secret for
//! one agent acting for one entity, minted by the app's backend so an agent
//! process never holds the project's API key. Only its SHA-256 is stored; the
//! token is shown once. Revoking deletes it and moves the project's access epoch,
//! so no node's memory of it outlives the commit.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json, secret_token};
use crate::store::Tx;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;

const WHAT: &str = "agent token";
pub const PREFIX: &str = "sxa_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentToken {
    pub id: String,
    pub project_id: String,
    pub agent_id: String,
    pub entity_id: String,
    /// The API key that minted it: the token stops working when that key is revoked.
    pub api_key_id: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What the hash index points to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashIndex {
    project_id: String,
    agent_id: String,
    token_id: String,
}

fn record_key(project_id: &str, agent_id: &str, token_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("agent_token", agent_id, token_id))
}

fn hash_index_key(hash: &str) -> Vec<u8> {
    keys::index("agent_token_hash").pack(&hash)
}

/// What a new token is for.
pub struct NewToken<'a> {
    pub project_id: &'a str,
    pub agent_id: &'a str,
    pub entity_id: &'a str,
    pub api_key_id: &'a str,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// The most live tokens an agent may hold at once.
pub const MAX_LIVE: usize = 1000;

/// Stores a new token; the returned secret is the only copy. The agent's expired
/// tokens are erased on the way, so they never pile up.
pub async fn issue(tx: &Tx, new: NewToken<'_>) -> Result<(AgentToken, SecretString), RecordError> {
    ids::check_app_id(new.entity_id, "entityId")?;
    let mut live = 0;
    for token in of_agent(tx, new.project_id, new.agent_id).await? {
        if token.expires_at > new.now {
            live += 1;
        } else {
            erase(tx, &token)?;
        }
    }
    if live >= MAX_LIVE {
        let why = format!("the agent holds {MAX_LIVE} live tokens: revoke some or let them expire");
        return Err(RecordError::Invalid { what: WHAT, why });
    }
    let secret = secret_token::mint(PREFIX);
    let token = AgentToken {
        id: ids::mint("atk"),
        project_id: new.project_id.to_owned(),
        agent_id: new.agent_id.to_owned(),
        entity_id: new.entity_id.to_owned(),
        api_key_id: new.api_key_id.to_owned(),
        hash: secret_token::hash_hex(secret.expose()),
        created_at: new.now,
        expires_at: new.expires_at,
    };
    put_json(tx, &record_key(new.project_id, new.agent_id, &token.id), &token, WHAT)?;
    let index = HashIndex {
        project_id: token.project_id.clone(),
        agent_id: token.agent_id.clone(),
        token_id: token.id.clone(),
    };
    put_json(tx, &hash_index_key(&token.hash), &index, WHAT)?;
    Ok((token, secret))
}

/// The token a presented secret is, if it exists (expired or not: the caller
/// decides with its clock).
pub async fn find(tx: &Tx, presented: &str) -> Result<Option<AgentToken>, RecordError> {
    if !secret_token::is_well_formed(PREFIX, presented) {
        return Ok(None);
    }
    let hash = secret_token::hash_hex(presented);
    let Some(index) = get_json::<HashIndex>(tx, &hash_index_key(&hash), WHAT).await? else {
        return Ok(None);
    };
    get_json(tx, &record_key(&index.project_id, &index.agent_id, &index.token_id), WHAT).await
}

/// Deletes a token; it stops working in the same commit.
pub async fn revoke(tx: &Tx, project_id: &str, agent_id: &str, token_id: &str) -> Result<(), RecordError> {
    let key = record_key(project_id, agent_id, token_id);
    let Some(token) = get_json::<AgentToken>(tx, &key, WHAT).await? else {
        return Err(RecordError::NotFound(WHAT));
    };
    erase(tx, &token)?;
    super::access_epoch::bump_project(tx, project_id)
}

fn erase(tx: &Tx, token: &AgentToken) -> Result<(), RecordError> {
    tx.clear(&hash_index_key(&token.hash))?;
    tx.clear(&record_key(&token.project_id, &token.agent_id, &token.id))?;
    Ok(())
}

async fn of_agent(tx: &Tx, project_id: &str, agent_id: &str) -> Result<Vec<AgentToken>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("agent_token", agent_id));
    super::list_json(tx, space.range(), Default::default(), WHAT).await
}

/// Deletes every token of an agent (the agent is being deleted).
pub async fn revoke_all(tx: &Tx, project_id: &str, agent_id: &str) -> Result<(), RecordError> {
    for token in of_agent(tx, project_id, agent_id).await? {
        erase(tx, &token)?;
    }
    Ok(())
}

/// One page of an agent's tokens (expired ones left out), by id.
pub async fn page(
    tx: &Tx,
    project_id: &str,
    agent_id: &str,
    request: &super::page::PageRequest,
    now: Timestamp,
) -> Result<super::page::Page<AgentToken>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("agent_token", agent_id));
    let mut page: super::page::Page<AgentToken> =
        super::page::read_json(tx, "agent-tokens", &space, request, WHAT).await?;
    page.items.retain(|token| token.expires_at > now);
    Ok(page)
}
