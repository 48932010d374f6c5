//! A connection: entity × integration × provider account, with its vaulted tokens.
//!
//! Tokens exist in two forms: `TokenSet` (in memory, secret fields) and the sealed
//! `Ciphertext` in the record. The on-disk plaintext layout `TokenSetV1` is private
//! and versioned, so the only path from a token to bytes is through the vault.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;
use crate::vault::{Ciphertext, Vault};

const WHAT: &str = "connection";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Authorized at the provider, waiting for the popup's `sxc` confirmation.
    Pending,
    Active,
    /// The provider refused the refresh token: the user must connect again.
    ReauthRequired,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: String,
    pub project_id: String,
    pub entity_id: String,
    pub integration: String,
    pub provider: String,
    pub account: Account,
    pub scopes: Vec<String>,
    pub status: ConnectionStatus,
    /// Connection params the provider's URLs are filled with (`subdomain`, `shop`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: std::collections::BTreeMap<String, String>,
    tokens: Ciphertext,
    /// When the access token expires, if the provider said.
    pub expires_at: Option<Timestamp>,
    /// When credentials that do not expire are next checked at the provider, if
    /// their entry re-checks them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub refreshed_at: Timestamp,
}

/// Provider tokens, in memory only.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<SecretString>,
    pub token_type: String,
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

/// The sealed plaintext layout, version 1.
#[derive(Serialize, Deserialize)]
struct TokenSetV1 {
    v: u8,
    access: String,
    refresh: Option<String>,
    id: Option<String>,
    token_type: String,
    expires_at: Option<Timestamp>,
}

impl Drop for TokenSetV1 {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access.zeroize();
        self.refresh.zeroize();
        self.id.zeroize();
    }
}

impl TokenSet {
    pub(crate) fn seal(&self, vault: &Vault, aad: &[u8]) -> Result<Ciphertext, RecordError> {
        let layout = TokenSetV1 {
            v: 1,
            access: self.access_token.expose().to_owned(),
            refresh: self.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            id: self.id_token.as_ref().map(|t| t.expose().to_owned()),
            token_type: self.token_type.clone(),
            expires_at: self.expires_at,
        };
        let mut plain = super::encode(&layout, WHAT)?;
        let sealed = vault.encrypt(aad, &plain);
        zeroize::Zeroize::zeroize(&mut plain);
        Ok(sealed?)
    }

    pub(crate) async fn open(
        vault: &Vault,
        aad: &[u8],
        sealed: &Ciphertext,
    ) -> Result<TokenSet, RecordError> {
        let plain = vault.decrypt(aad, sealed).await?;
        let layout: TokenSetV1 = serde_json::from_slice(plain.expose())
            .map_err(|_| RecordError::Corrupt { what: WHAT, detail: "sealed tokens do not parse".into() })?;
        Ok(TokenSet {
            access_token: SecretString::new(layout.access.as_str()),
            refresh_token: layout.refresh.as_deref().map(SecretString::new),
            id_token: layout.id.as_deref().map(SecretString::new),
            token_type: layout.token_type.clone(),
            expires_at: layout.expires_at,
        })
    }
}

/// A freshly authorized account, before it is stored.
#[derive(Debug, Clone)]
pub struct ConnectionDraft {
    pub project_id: String,
    pub entity_id: String,
    pub integration: String,
    pub provider: String,
    pub account: Account,
    pub scopes: Vec<String>,
    pub status: ConnectionStatus,
    pub params: std::collections::BTreeMap<String, String>,
    pub tokens: TokenSet,
    /// For credentials their entry re-checks: when first.
    pub recheck_at: Option<Timestamp>,
}

pub fn record_key(project_id: &str, entity_id: &str, connection_id: &str) -> Vec<u8> {
    keys::entity_space(project_id, entity_id).pack(&("conn", connection_id))
}

fn account_index_key(project_id: &str, entity_id: &str, integration: &str, account_id: &str) -> Vec<u8> {
    keys::entity_space(project_id, entity_id).pack(&("account", integration, account_id))
}

impl Connection {
    pub async fn tokens(&self, vault: &Vault) -> Result<TokenSet, RecordError> {
        TokenSet::open(vault, &record_key(&self.project_id, &self.entity_id, &self.id), &self.tokens).await
    }

    /// Replaces the tokens (after a refresh), sealing them for this record.
    pub fn set_tokens(
        &mut self,
        vault: &Vault,
        tokens: &TokenSet,
        now: Timestamp,
    ) -> Result<(), RecordError> {
        self.tokens = tokens.seal(vault, &record_key(&self.project_id, &self.entity_id, &self.id))?;
        self.expires_at = tokens.expires_at;
        self.refreshed_at = now;
        Ok(())
    }
}

/// Stores a newly authorized account. An account the entity already connected
/// through this integration keeps its connection id and gets the new tokens and
/// scopes. Returns the connection and whether it is new.
pub async fn upsert(
    tx: &Tx,
    vault: &Vault,
    draft: ConnectionDraft,
    now: Timestamp,
) -> Result<(Connection, bool), RecordError> {
    ids::check_app_id(&draft.entity_id, "entity id")?;
    let index = account_index_key(&draft.project_id, &draft.entity_id, &draft.integration, &draft.account.id);
    let existing_id: Option<String> = get_json(tx, &index, WHAT).await?;
    let existing = match &existing_id {
        Some(id) => get(tx, &draft.project_id, &draft.entity_id, id).await?,
        None => None,
    };
    let created = existing.is_none();
    let id = existing.as_ref().map_or_else(|| ids::mint("con"), |c| c.id.clone());
    let key = record_key(&draft.project_id, &draft.entity_id, &id);
    let connection = Connection {
        tokens: draft.tokens.seal(vault, &key)?,
        expires_at: draft.tokens.expires_at,
        recheck_at: draft.recheck_at,
        created_at: existing.as_ref().map_or(now, |c| c.created_at),
        refreshed_at: now,
        id,
        project_id: draft.project_id,
        entity_id: draft.entity_id,
        integration: draft.integration,
        provider: draft.provider,
        account: draft.account,
        scopes: draft.scopes,
        status: draft.status,
        params: draft.params,
    };
    put_json(tx, &key, &connection, WHAT)?;
    put_json(tx, &index, &connection.id, WHAT)?;
    super::refresh_due::schedule(tx, &connection)?;
    super::access_epoch::bump_entity(tx, &connection.project_id, &connection.entity_id)?;
    Ok((connection, created))
}

/// Stores a grant: on connection `reconnect` when the session re-authorizes one (its
/// id and creation kept, its account what the provider now says), else on the
/// entity's connection of that account, or a new one. Returns whether it is new.
pub async fn store_grant(
    tx: &Tx,
    vault: &Vault,
    draft: ConnectionDraft,
    reconnect: Option<&str>,
    now: Timestamp,
) -> Result<(Connection, bool), RecordError> {
    let Some(id) = reconnect else { return upsert(tx, vault, draft, now).await };
    let existing =
        get(tx, &draft.project_id, &draft.entity_id, id).await?.ok_or(RecordError::NotFound(WHAT))?;
    let index = account_index_key(&draft.project_id, &draft.entity_id, &draft.integration, &draft.account.id);
    let holder: Option<String> = get_json(tx, &index, WHAT).await?;
    if holder.is_some_and(|holder| holder != existing.id) {
        return Err(RecordError::AlreadyExists("connection of this account"));
    }
    tx.clear(&account_index_key(
        &existing.project_id,
        &existing.entity_id,
        &existing.integration,
        &existing.account.id,
    ))?;
    let key = record_key(&draft.project_id, &draft.entity_id, &existing.id);
    let connection = Connection {
        tokens: draft.tokens.seal(vault, &key)?,
        expires_at: draft.tokens.expires_at,
        recheck_at: draft.recheck_at,
        refreshed_at: now,
        account: draft.account,
        scopes: draft.scopes,
        status: draft.status,
        params: draft.params,
        ..existing
    };
    put_json(tx, &key, &connection, WHAT)?;
    put_json(tx, &index, &connection.id, WHAT)?;
    super::refresh_due::schedule(tx, &connection)?;
    super::access_epoch::bump_entity(tx, &connection.project_id, &connection.entity_id)?;
    Ok((connection, false))
}

/// Writes an updated connection (status, tokens) back.
pub fn put(tx: &Tx, connection: &Connection) -> Result<(), RecordError> {
    put_json(
        tx,
        &record_key(&connection.project_id, &connection.entity_id, &connection.id),
        connection,
        WHAT,
    )?;
    super::refresh_due::schedule(tx, connection)?;
    super::access_epoch::bump_entity(tx, &connection.project_id, &connection.entity_id)
}

pub async fn get(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    connection_id: &str,
) -> Result<Option<Connection>, RecordError> {
    if ids::check_app_id(entity_id, "entity id").is_err()
        || ids::check_minted("con", connection_id, "connection id").is_err()
    {
        return Ok(None);
    }
    get_json(tx, &record_key(project_id, entity_id, connection_id), WHAT).await
}

pub async fn list(tx: &Tx, project_id: &str, entity_id: &str) -> Result<Vec<Connection>, RecordError> {
    if ids::check_app_id(entity_id, "entity id").is_err() {
        return Ok(Vec::new());
    }
    let space = keys::entity_space(project_id, entity_id).subspace(&("conn",));
    super::list_json(tx, space.range(), Default::default(), WHAT).await
}

fn default_key(project_id: &str, entity_id: &str, integration: &str) -> Vec<u8> {
    keys::entity_space(project_id, entity_id).pack(&("default", integration))
}

/// Makes `connection` the one the proxy uses for its integration when a call names none.
pub fn set_default(tx: &Tx, connection: &Connection) -> Result<(), RecordError> {
    let key = default_key(&connection.project_id, &connection.entity_id, &connection.integration);
    put_json(tx, &key, &connection.id, WHAT)?;
    super::access_epoch::bump_entity(tx, &connection.project_id, &connection.entity_id)
}

/// Which of an entity's usable connections of `integration` is its default: the one
/// made so (`set_default`) while it stays usable, else the first connected. A second
/// account never leaves a call without one.
pub async fn default_of<'a>(
    tx: &Tx,
    connections: &'a [Connection],
    integration: &str,
) -> Result<Option<&'a Connection>, RecordError> {
    let mut usable =
        connections.iter().filter(|c| c.integration == integration && c.status != ConnectionStatus::Revoked);
    let Some(first) = usable.clone().min_by_key(|c| (c.created_at, &c.id)) else { return Ok(None) };
    if usable.clone().nth(1).is_none() {
        return Ok(Some(first));
    }
    let chosen: Option<String> =
        get_json(tx, &default_key(&first.project_id, &first.entity_id, integration), WHAT).await?;
    Ok(Some(usable.find(|c| Some(&c.id) == chosen.as_ref()).unwrap_or(first)))
}

/// Deletes a connection and its sealed tokens.
pub async fn delete(
    tx: &Tx,
    project_id: &str,
    entity_id: &str,
    connection_id: &str,
) -> Result<Connection, RecordError> {
    let connection =
        get(tx, project_id, entity_id, connection_id).await?.ok_or(RecordError::NotFound(WHAT))?;
    tx.clear(&record_key(project_id, entity_id, connection_id))?;
    tx.clear(&account_index_key(project_id, entity_id, &connection.integration, &connection.account.id))?;
    super::access_epoch::bump_entity(tx, project_id, entity_id)?;
    Ok(connection)
}
