//! `POST /v1/entities/{entityId}/connections`: credentials an app already holds,
//! imported server to server. They are checked at the provider exactly as the
//! connect page checks what a user types, and stored only once accepted.

use std::collections::BTreeMap;

use crate::auth::Principal;
use crate::catalog::{params, serving};
use crate::error::{EngineError, EngineResult};
use crate::flows::Flows;
use crate::flows::views::ConnectionView;
use crate::model::connection::{self, Account, ConnectionDraft, ConnectionStatus};
use crate::model::event::{self, EventDraft, EventKind};
use crate::model::{ids, integration};
use crate::util::secret::SecretString;

/// What an app imports.
#[derive(Debug, Clone, Default)]
pub struct Import {
    pub integration: String,
    pub credentials: BTreeMap<String, SecretString>,
    pub params: params::ParamValues,
}

impl Flows {
    pub async fn import_connection(
        &self,
        principal: &Principal,
        entity_id: &str,
        import: Import,
    ) -> EngineResult<ConnectionView> {
        ids::check_app_id(entity_id, "entity id")?;
        let tx = self.store.begin().await?;
        let found = integration::get(&tx, &principal.project_id, &import.integration)
            .await?
            .ok_or(EngineError::NotFound("integration"))?;
        drop(tx);
        let spec = self.providers.credential_spec(&found).ok_or_else(|| {
            EngineError::Invalid(format!("{} connects by OAuth: start a session instead", found.key))
        })??;
        let declared = serving::connection_params(&found.config);
        let values = params::complete(
            &declared,
            &params::accept_all(&declared, &import.params)?,
            &Default::default(),
        )?;
        let (credentials, tokens) = self
            .providers
            .verify_credentials(&found, &spec, &values, &import.credentials, self.now())
            .await?;
        let draft = ConnectionDraft {
            project_id: principal.project_id.to_string(),
            entity_id: entity_id.to_owned(),
            integration: found.key.clone(),
            provider: found.provider.clone(),
            account: Account { id: spec.account_id(&credentials), email: None },
            scopes: Vec::new(),
            status: ConnectionStatus::Active,
            params: values,
            tokens,
        };
        let (vault, now) = (self.vault.clone(), self.now());
        let stored = self
            .store
            .run(|tx| {
                let (vault, draft) = (vault.clone(), draft.clone());
                async move {
                    let (stored, created) = connection::upsert(&tx, &vault, draft, now).await?;
                    let kind =
                        if created { EventKind::ConnectionCreated } else { EventKind::ConnectionUpdated };
                    let event = EventDraft {
                        entity_id: Some(stored.entity_id.clone()),
                        connection_id: Some(stored.id.clone()),
                        status: Some("active".into()),
                        ..EventDraft::default()
                    };
                    event::append(&tx, &stored.project_id, kind, event, now).await?;
                    Ok::<_, EngineError>(stored)
                }
            })
            .await?;
        let tx = self.store.begin().await?;
        let mut views =
            ConnectionView::of_entity(&tx, &stored.project_id, entity_id, |c| c.id == stored.id).await?;
        views.pop().ok_or(EngineError::NotFound("connection"))
    }
}
