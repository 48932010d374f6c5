//! The webhook signing keys, per project: ed25519, the secret half sealed by the
//! vault. A project's deliveries are signed only with its own keys, so a delivery
//! for one project never verifies under another's. A new key signs alongside the
//! old ones until they are retired, so receivers can move to the new public key
//! without missing a delivery.
//!
//! Keys were once global. The first start of a version with keys per project
//! records when (`mark_per_project`); a project made before then copies, on its
//! first use, the global keys that were active into its own keyring (same id and
//! public key, so its receivers keep verifying; marked `legacy`) and gets a fresh
//! key of its own beside them: the operator retires the legacy copies once
//! receivers trust the new key. A project made since never sees a global key.

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use super::signing::public_key_text;
use crate::model::{RecordError, ids, keys};
use crate::store::Tx;
use crate::util::clock::{Rfc3339, Timestamp};
use crate::vault::{Ciphertext, Vault};

const WHAT: &str = "webhook key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Retired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredKey {
    id: String,
    public_key: String,
    secret: Ciphertext,
    created_at: Timestamp,
    status: KeyStatus,
    /// Copied from the former global keyring (shared with other projects).
    #[serde(default)]
    legacy: bool,
}

/// A key as `/v1/webhooks/keys` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub public_key: String,
    pub created_at: Rfc3339,
    pub status: KeyStatus,
    /// A copy of a former global key, which other projects may share: retire it
    /// once receivers trust this project's own key.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
}

fn record_key(project_id: &str, id: &str) -> Vec<u8> {
    keys::index("project_webhook_key").pack(&(project_id, id))
}

/// Where the global keys lived before keys were per project.
fn legacy_space() -> crate::store::Subspace {
    keys::index("webhook_key")
}

/// When keys became per project on this store.
fn per_project_since_key() -> Vec<u8> {
    keys::index("webhook_keys_per_project").pack(&("since",))
}

/// Records, once, when keys became per project: only projects older than that
/// inherit the global keys.
pub async fn mark_per_project(tx: &Tx, now: Timestamp) -> Result<(), RecordError> {
    if tx.get(&per_project_since_key()).await?.is_none() {
        crate::model::put_json(tx, &per_project_since_key(), &now, WHAT)?;
    }
    Ok(())
}

async fn all(tx: &Tx, project_id: &str) -> Result<Vec<StoredKey>, RecordError> {
    let range = keys::index("project_webhook_key").subspace(&(project_id,)).range();
    crate::model::list_json(tx, range, Default::default(), WHAT).await
}

fn store(tx: &Tx, project_id: &str, key: &StoredKey) -> Result<(), RecordError> {
    crate::model::put_json(tx, &record_key(project_id, &key.id), key, WHAT)
}

/// Adds a fresh active key to a project.
pub async fn add(tx: &Tx, vault: &Vault, project_id: &str, now: Timestamp) -> Result<KeyView, RecordError> {
    let signing = SigningKey::generate(&mut OsRng);
    let id = ids::mint("whk");
    let secret = vault.encrypt(&record_key(project_id, &id), signing.as_bytes())?;
    let stored = StoredKey {
        public_key: public_key_text(&signing.verifying_key()),
        secret,
        created_at: now,
        status: KeyStatus::Active,
        legacy: false,
        id,
    };
    store(tx, project_id, &stored)?;
    Ok(view(&stored))
}

fn view(key: &StoredKey) -> KeyView {
    KeyView {
        id: key.id.clone(),
        public_key: key.public_key.clone(),
        created_at: Rfc3339(key.created_at),
        status: key.status,
        legacy: key.legacy,
    }
}

/// Gives a project an active key if it has none: on its first use, the former
/// global keys that were active (as legacy copies) and a fresh key of its own.
pub async fn ensure(tx: &Tx, vault: &Vault, project_id: &str, now: Timestamp) -> Result<(), RecordError> {
    let project =
        crate::model::project::get(tx, project_id).await?.ok_or(RecordError::NotFound("project"))?;
    let existing = all(tx, project_id).await?;
    let since = crate::model::get_json::<Timestamp>(tx, &per_project_since_key(), WHAT).await?;
    if existing.is_empty() && since.is_some_and(|since| project.created_at < since) {
        let legacy: Vec<StoredKey> =
            crate::model::list_json(tx, legacy_space().range(), Default::default(), WHAT).await?;
        for old in legacy.into_iter().filter(|k| k.status == KeyStatus::Active) {
            let plain = vault.decrypt(&legacy_space().pack(&old.id), &old.secret).await?;
            let secret = vault.encrypt(&record_key(project_id, &old.id), plain.expose())?;
            store(tx, project_id, &StoredKey { secret, legacy: true, ..old })?;
        }
    }
    if existing.iter().all(|k| k.status != KeyStatus::Active) {
        add(tx, vault, project_id, now).await?;
    }
    Ok(())
}

/// Erases a project's signing keys (the project is being deleted).
pub fn clear_project(tx: &Tx, project_id: &str) -> Result<(), RecordError> {
    let (begin, end) = keys::index("project_webhook_key").subspace(&(project_id,)).range();
    tx.clear_range(&begin, &end)?;
    Ok(())
}

pub async fn list(tx: &Tx, project_id: &str) -> Result<Vec<KeyView>, RecordError> {
    Ok(all(tx, project_id).await?.iter().map(view).collect())
}

/// Stops signing with a key (after receivers moved to the newer one).
pub async fn retire(tx: &Tx, project_id: &str, id: &str) -> Result<(), RecordError> {
    let mut keys = all(tx, project_id).await?;
    let key = keys.iter_mut().find(|k| k.id == id).ok_or(RecordError::NotFound(WHAT))?;
    key.status = KeyStatus::Retired;
    store(tx, project_id, key)
}

/// Every active key of a project, unsealed, to sign with.
pub async fn signing_keys(tx: &Tx, vault: &Vault, project_id: &str) -> Result<Vec<SigningKey>, RecordError> {
    let mut signing = Vec::new();
    for key in all(tx, project_id).await?.into_iter().filter(|k| k.status == KeyStatus::Active) {
        let plain = vault.decrypt(&record_key(project_id, &key.id), &key.secret).await?;
        let bytes: [u8; 32] = plain
            .expose()
            .try_into()
            .map_err(|_| RecordError::Corrupt { what: WHAT, detail: "bad key length".into() })?;
        signing.push(SigningKey::from_bytes(&bytes));
    }
    Ok(signing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::vault::MasterKey;

    /// A key as the global keyring stored it, before keys were per project.
    async fn legacy_key(store: &Store, vault: &Vault) -> String {
        let signing = SigningKey::generate(&mut OsRng);
        let old = StoredKey {
            id: "whk_legacy".into(),
            public_key: public_key_text(&signing.verifying_key()),
            secret: vault.encrypt(&legacy_space().pack(&"whk_legacy"), signing.as_bytes()).unwrap(),
            created_at: Timestamp(1),
            status: KeyStatus::Active,
            legacy: false,
        };
        let key = legacy_space().pack(&old.id.as_str());
        store
            .run(|tx| {
                let (key, old) = (key.clone(), old.clone());
                async move { crate::model::put_json(&tx, &key, &old, WHAT) }
            })
            .await
            .unwrap();
        old.public_key
    }

    /// A project record made at `at`; its id.
    async fn project_at(store: &Store, at: i64) -> String {
        let id = ids::mint("prj");
        let project = crate::model::project::Project {
            id: id.clone(),
            name: id.clone(),
            origins: Vec::new(),
            created_at: Timestamp(at),
        };
        let key = crate::model::keys::project(&id);
        store
            .run(|tx| {
                let (key, project) = (key.clone(), project.clone());
                async move { crate::model::put_json(&tx, &key, &project, WHAT) }
            })
            .await
            .unwrap();
        id
    }

    #[tokio::test]
    async fn a_project_older_than_per_project_keys_copies_the_global_ones_beside_its_own() {
        let store = Store::memory();
        let vault = Vault::open(store.clone(), MasterKey::generate()).await.unwrap();
        let legacy_public = legacy_key(&store, &vault).await;
        store.run(|tx| async move { mark_per_project(&tx, Timestamp(100)).await }).await.unwrap();
        let (a, b, newer) =
            (project_at(&store, 10).await, project_at(&store, 20).await, project_at(&store, 200).await);
        let newer = store
            .run(|tx| {
                let (vault, newer) = (vault.clone(), newer.clone());
                async move {
                    ensure(&tx, &vault, &newer, Timestamp(300)).await?;
                    list(&tx, &newer).await
                }
            })
            .await
            .unwrap();
        assert!(newer.len() == 1 && !newer[0].legacy, "a newer project never sees a global key: {newer:?}");
        let mut own = Vec::new();
        for project in [&a, &b] {
            let views = store
                .run(|tx| {
                    let (vault, project) = (vault.clone(), project.clone());
                    async move {
                        ensure(&tx, &vault, &project, Timestamp(300)).await?;
                        list(&tx, &project).await
                    }
                })
                .await
                .unwrap();
            assert_eq!(views.len(), 2, "{views:?}");
            let legacy: Vec<_> = views.iter().filter(|k| k.legacy).collect();
            assert_eq!((legacy.len(), legacy[0].public_key.as_str()), (1, legacy_public.as_str()));
            own.push(views.into_iter().find(|k| !k.legacy).unwrap().public_key);
            let tx = store.begin().await.unwrap();
            let signing = signing_keys(&tx, &vault, project).await.unwrap();
            assert_eq!(signing.len(), 2, "the legacy key signs alongside until retired");
        }
        assert_ne!(own[0], own[1], "each project has a key of its own");
    }
}
