//! Deleting a project and everything of it. First one commit closes it: the project
//! record, its listing entry and every API key go, so from then on every call for
//! it is refused. Then its connections' grants are revoked at their providers where
//! they support it (best effort, a few at once), and last every record of it is
//! erased: its subspace (integrations, agents, entities, connections, events,
//! audit), its sessions and their pending grants, its webhook signing keys — all but
//! its access counter, which is set past where it was, so nothing a node cached of
//! the project reads as current again.
//! Entries other indexes keep for it (due renewals, webhook outbox) are found stale
//! when read and dropped then.

use futures_util::StreamExt;

use super::Admin;
use crate::error::{EngineError, EngineResult};
use crate::model::connection::Connection;
use crate::model::{RecordError, access_epoch, api_key, decode, grant, integration, keys, project, session};
use crate::store::RangeOptions;

/// Connections read per round trip while revoking, and revocations at once.
const BATCH: usize = 500;
const REVOCATIONS_AT_ONCE: usize = 8;

impl Admin {
    pub async fn delete_project(&self, project_id: &str) -> EngineResult<()> {
        let id = project_id.to_owned();
        self.store
            .run(|tx| {
                let id = id.clone();
                async move {
                    if project::get(&tx, &id).await?.is_none() {
                        return Err(RecordError::NotFound("project"));
                    }
                    for key in api_key::list(&tx, &id).await? {
                        api_key::revoke(&tx, &id, &key.id).await?;
                    }
                    project::remove(&tx, &id)
                }
            })
            .await?;
        let revoked = self.revoke_grants(project_id).await?;
        self.erase(project_id).await?;
        tracing::info!(project = %project_id, revoked, "project deleted");
        Ok(())
    }

    /// Revokes every connection's grant at its provider where the provider can;
    /// returns how many were revoked there.
    async fn revoke_grants(&self, project_id: &str) -> EngineResult<usize> {
        let space = keys::project_space(project_id).subspace(&("entity",));
        let (mut begin, end) = space.range();
        let mut revoked = 0;
        loop {
            let tx = self.store.begin().await?;
            let integrations = integration::list(&tx, project_id).await?;
            let pairs = tx.get_range(&begin, &end, RangeOptions::limit(BATCH)).await?;
            let connections: Vec<Connection> = pairs
                .iter()
                .filter(|pair| {
                    matches!(space.unpack::<(String, String, String)>(&pair.key), Ok((_, kind, _)) if kind == "conn")
                })
                .map(|pair| decode(&pair.value, "connection"))
                .collect::<Result<_, _>>()?;
            drop(tx);
            revoked += futures_util::stream::iter(connections)
                .map(|c| {
                    let found = integrations.iter().find(|i| i.key == c.integration);
                    async move { self.revoke_one(found, &c).await }
                })
                .buffer_unordered(REVOCATIONS_AT_ONCE)
                .filter(|done| std::future::ready(*done))
                .count()
                .await;
            let Some(last) = pairs.last() else { return Ok(revoked) };
            if pairs.len() < BATCH {
                return Ok(revoked);
            }
            begin = last.key.clone();
            begin.push(0);
        }
    }

    /// Whether the provider revoked the connection's grant; a failure is logged,
    /// never fatal: the tokens are erased either way.
    async fn revoke_one(&self, found: Option<&integration::Integration>, c: &Connection) -> bool {
        let Some(found) = found else { return false };
        let Ok(plugin) = self.providers.of_integration(found) else { return false };
        if !plugin.info().supports_revoke || self.providers.credential_spec(found).is_some() {
            return false;
        }
        let revoked = async {
            let tokens = c.tokens(&self.vault).await?;
            let target = self.providers.target(found, &c.params).await?;
            plugin.revoke(&target, &tokens.access_token, tokens.refresh_token.as_ref()).await?;
            Ok::<_, EngineError>(())
        };
        match revoked.await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(connection = %c.id, %error, "revoking a deleted project's grant failed");
                false
            }
        }
    }

    /// Erases every record of the project, its sessions a batch per commit.
    async fn erase(&self, project_id: &str) -> EngineResult<()> {
        let sessions = session::project_index(project_id);
        loop {
            let id = project_id.to_owned();
            let left = self
                .store
                .run(|tx| {
                    let (id, sessions) = (id.clone(), sessions.clone());
                    async move {
                        let (begin, end) = sessions.range();
                        let pairs = tx.get_range(&begin, &end, RangeOptions::limit(BATCH)).await?;
                        for pair in &pairs {
                            if let Ok((_, session_id)) = sessions.unpack::<(i64, String)>(&pair.key) {
                                grant::clear_session(&tx, &session_id)?;
                                session::delete(&tx, &session_id).await?;
                            }
                            tx.clear(&pair.key)?;
                        }
                        if pairs.len() < BATCH {
                            let epoch = access_epoch::project(&tx, &id).await?;
                            let (begin, end) = keys::project_space(&id).range();
                            tx.clear_range(&begin, &end)?;
                            access_epoch::carry_project_past(&tx, &id, epoch)?;
                            crate::webhooks::keyring::clear_project(&tx, &id)?;
                        }
                        Ok::<_, RecordError>(pairs.len() == BATCH)
                    }
                })
                .await?;
            if !left {
                return Ok(());
            }
        }
    }
}
