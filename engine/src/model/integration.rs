//! An integration: a provider enabled in a project with the project's own OAuth
//! client. The client secret is sealed by the vault, bound to this record's key.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json};
use crate::store::Tx;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;
use crate::vault::{Ciphertext, Vault};

const WHAT: &str = "integration";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub project_id: String,
    /// The project's name for it (`gmail`, `github-work`).
    pub key: String,
    /// The provider: a catalog id or a plugin id (`gmail`, `zendesk`, `oauth2`).
    pub provider: String,
    /// The plugin that serves it when that is not `provider` (`google` for `gmail`,
    /// `oauth2` for a catalog entry served from data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    pub client_id: String,
    client_secret: Ciphertext,
    /// Scopes requested when a session names none.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Provider configuration (endpoints, discovery URL, tenant…).
    #[serde(default)]
    pub config: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What an administrator gives to create or replace an integration.
#[derive(Debug, Clone)]
pub struct IntegrationDraft {
    pub key: String,
    pub provider: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    pub config: serde_json::Value,
}

pub fn record_key(project_id: &str, key: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("integration", key))
}

impl Integration {
    /// The plugin that serves this integration.
    pub fn plugin_id(&self) -> &str {
        self.plugin.as_deref().unwrap_or(&self.provider)
    }

    /// The OAuth client secret, opened for the one call that sends it to the provider.
    pub async fn client_secret(&self, vault: &Vault) -> Result<SecretString, RecordError> {
        let plain = vault.decrypt(&record_key(&self.project_id, &self.key), &self.client_secret).await?;
        let text = std::str::from_utf8(plain.expose())
            .map_err(|_| RecordError::Corrupt { what: WHAT, detail: "client secret is not UTF-8".into() })?;
        Ok(SecretString::new(text))
    }
}

/// Creates or replaces an integration, sealing its client secret. `plugin` names
/// the plugin that serves it when that is not its provider.
pub async fn put(
    tx: &Tx,
    vault: &Vault,
    project_id: &str,
    draft: IntegrationDraft,
    plugin: Option<String>,
    now: Timestamp,
) -> Result<Integration, RecordError> {
    ids::check_app_id(&draft.key, "integration key")?;
    ids::check_app_id(&draft.provider, "provider id")?;
    if draft.client_id.len() > 512 {
        return Err(RecordError::Invalid { what: "client id", why: "must be at most 512 characters".into() });
    }
    let key = record_key(project_id, &draft.key);
    let created_at = match get(tx, project_id, &draft.key).await? {
        Some(existing) => existing.created_at,
        None => now,
    };
    let integration = Integration {
        project_id: project_id.to_owned(),
        client_secret: vault.encrypt(&key, draft.client_secret.expose().as_bytes())?,
        key: draft.key,
        provider: draft.provider,
        plugin,
        client_id: draft.client_id,
        scopes: draft.scopes,
        config: draft.config,
        created_at,
        updated_at: now,
    };
    put_json(tx, &key, &integration, WHAT)?;
    super::access_epoch::bump_project(tx, project_id)?;
    Ok(integration)
}

pub async fn get(tx: &Tx, project_id: &str, key: &str) -> Result<Option<Integration>, RecordError> {
    if ids::check_app_id(key, "integration key").is_err() {
        return Ok(None);
    }
    get_json(tx, &record_key(project_id, key), WHAT).await
}

/// One page of the project's integrations, by key.
pub async fn list_page(
    tx: &Tx,
    project_id: &str,
    request: &super::page::PageRequest,
) -> Result<super::page::Page<Integration>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("integration",));
    super::page::read_json(tx, "integrations", &space, request, WHAT).await
}

/// Deletes an integration and its sealed client secret. Its connections stay, but
/// no call can use them until an integration of that key is put again.
pub async fn delete(tx: &Tx, project_id: &str, key: &str) -> Result<(), RecordError> {
    if get(tx, project_id, key).await?.is_none() {
        return Err(RecordError::NotFound(WHAT));
    }
    tx.clear(&record_key(project_id, key))?;
    super::access_epoch::bump_project(tx, project_id)
}

pub async fn list(tx: &Tx, project_id: &str) -> Result<Vec<Integration>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("integration",));
    super::list_json(tx, space.range(), Default::default(), WHAT).await
}
