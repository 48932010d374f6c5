//! API keys: `sxk_…` (`secret_token`'s shape). Only the SHA-256 of a key is stored
//! (and indexed); the key itself is shown once.

use serde::{Deserialize, Serialize};

use super::{RecordError, get_json, ids, keys, put_json, secret_token};
use crate::store::Tx;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;

const WHAT: &str = "api key";
pub const PREFIX: &str = "sxk_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub project_id: String,
    pub name: String,
    /// The first characters of the key, to recognise it in a list (`sxk_abcd…`).
    pub hint: String,
    /// Hex SHA-256 of the whole key.
    pub hash: String,
    pub created_at: Timestamp,
}

/// What the hash index points to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashIndex {
    project_id: String,
    key_id: String,
}

fn record_key(project_id: &str, key_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("api_key", key_id))
}

/// When the key was last used (`auth::key_use`), apart from the record so that
/// recording a use never conflicts with a change to the key.
fn used_key(project_id: &str, key_id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("api_key_used", key_id))
}

fn hash_index_key(hash: &str) -> Vec<u8> {
    keys::index("api_key_hash").pack(&hash)
}

/// Whether `presented` has the shape and checksum of a SecuriX API key.
pub fn is_well_formed(presented: &str) -> bool {
    secret_token::is_well_formed(PREFIX, presented)
}

/// Creates a key for `project_id`; the returned secret is the only copy.
pub fn issue(
    tx: &Tx,
    project_id: &str,
    name: &str,
    now: Timestamp,
) -> Result<(ApiKey, SecretString), RecordError> {
    ids::check_minted("prj", project_id, "project id")?;
    let secret = secret_token::mint(PREFIX);
    let record = ApiKey {
        id: ids::mint("key"),
        project_id: project_id.to_owned(),
        name: name.trim().chars().take(200).collect(),
        hint: secret_token::hint(PREFIX, &secret),
        hash: secret_token::hash_hex(secret.expose()),
        created_at: now,
    };
    put_json(tx, &record_key(project_id, &record.id), &record, WHAT)?;
    let index = HashIndex { project_id: project_id.to_owned(), key_id: record.id.clone() };
    put_json(tx, &hash_index_key(&record.hash), &index, WHAT)?;
    Ok((record, secret))
}

/// The key record a presented API key belongs to, if it is live.
pub async fn authenticate(tx: &Tx, presented: &str) -> Result<Option<ApiKey>, RecordError> {
    if !is_well_formed(presented) {
        return Ok(None);
    }
    let Some(index) =
        get_json::<HashIndex>(tx, &hash_index_key(&secret_token::hash_hex(presented)), WHAT).await?
    else {
        return Ok(None);
    };
    get_json(tx, &record_key(&index.project_id, &index.key_id), WHAT).await
}

/// Deletes a key; it stops working in the same commit.
pub async fn revoke(tx: &Tx, project_id: &str, key_id: &str) -> Result<(), RecordError> {
    let key = record_key(project_id, key_id);
    let Some(record) = get_json::<ApiKey>(tx, &key, WHAT).await? else {
        return Err(RecordError::NotFound(WHAT));
    };
    tx.clear(&hash_index_key(&record.hash))?;
    tx.clear(&key)?;
    tx.clear(&used_key(project_id, key_id))?;
    super::access_epoch::bump_project(tx, project_id)
}

/// Records a use of a live key (a key revoked meanwhile is left alone).
pub async fn mark_used(tx: &Tx, project_id: &str, key_id: &str, at: Timestamp) -> Result<(), RecordError> {
    if get_json::<ApiKey>(tx, &record_key(project_id, key_id), WHAT).await?.is_some() {
        put_json(tx, &used_key(project_id, key_id), &at, WHAT)?;
    }
    Ok(())
}

/// When each of `keys` (a project's, in id order: a page of them) was last used, to
/// `auth::key_use::EVERY_MS` (`None`: never), read in one range rather than a read
/// per key.
pub async fn last_used(tx: &Tx, keys: &[ApiKey]) -> Result<Vec<Option<Timestamp>>, RecordError> {
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else { return Ok(Vec::new()) };
    let begin = used_key(&first.project_id, &first.id);
    // Just past the last key's entry.
    let mut end = used_key(&last.project_id, &last.id);
    end.push(0);
    let mut found = std::collections::HashMap::new();
    for pair in tx.get_range(&begin, &end, Default::default()).await? {
        found.insert(pair.key, super::decode::<Timestamp>(&pair.value, WHAT)?);
    }
    Ok(keys.iter().map(|key| found.get(&used_key(&key.project_id, &key.id)).copied()).collect())
}

/// One page of the project's keys (never a key itself: only its hash is stored).
pub async fn list_page(
    tx: &Tx,
    project_id: &str,
    request: &super::page::PageRequest,
) -> Result<super::page::Page<ApiKey>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("api_key",));
    super::page::read_json(tx, "api-keys", &space, request, WHAT).await
}

pub async fn get(tx: &Tx, project_id: &str, key_id: &str) -> Result<Option<ApiKey>, RecordError> {
    if ids::check_minted("key", key_id, "API key id").is_err() {
        return Ok(None);
    }
    get_json(tx, &record_key(project_id, key_id), WHAT).await
}

pub async fn list(tx: &Tx, project_id: &str) -> Result<Vec<ApiKey>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("api_key",));
    super::list_json(tx, space.range(), Default::default(), WHAT).await
}
