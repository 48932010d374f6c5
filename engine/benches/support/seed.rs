//! Many connections written straight to the store, 500 per commit: entity
//! `user-{i}` holds one connection of integration `up{i % integrations}`.

use securix_engine::Engine;
use securix_engine::model::RecordError;
use securix_engine::model::connection::{self, Account, ConnectionDraft, ConnectionStatus, TokenSet};
use securix_engine::util::clock::Timestamp;
use securix_engine::util::secret::SecretString;

fn draft(project_id: &str, i: usize, integrations: usize, expires_at: Timestamp) -> ConnectionDraft {
    ConnectionDraft {
        project_id: project_id.to_owned(),
        entity_id: format!("user-{i:06}"),
        integration: format!("up{}", i % integrations),
        provider: "oauth2".into(),
        account: Account { id: "bench-account".into(), email: None },
        scopes: vec![],
        status: ConnectionStatus::Active,
        params: Default::default(),
        tokens: TokenSet {
            access_token: SecretString::new("bench-at-seeded"),
            refresh_token: Some(SecretString::new("bench-rt")),
            id_token: None,
            token_type: "Bearer".into(),
            expires_at: Some(expires_at),
        },
        recheck_at: None,
    }
}

/// Writes `n` connections of `project_id` whose tokens expire at `expires_at`.
pub async fn connections(
    engine: &Engine,
    project_id: &str,
    n: usize,
    integrations: usize,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), RecordError> {
    for batch in (0..n).collect::<Vec<_>>().chunks(500) {
        let vault = engine.vault().clone();
        engine
            .store()
            .run(|tx| {
                let vault = vault.clone();
                async move {
                    for i in batch {
                        let draft = draft(project_id, *i, integrations, expires_at);
                        connection::upsert(&tx, &vault, draft, now).await?;
                    }
                    Ok::<_, RecordError>(())
                }
            })
            .await?;
    }
    Ok(())
}
