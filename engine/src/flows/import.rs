//! `POST /v1/entities/{entityId}/connections`: credentials an app already holds,
//! imported server to server. Credentials (`api_key`, `basic`, `jwt`) are checked at
//! the provider exactly as the connect page checks what a user types; an OAuth token
//! set (an app moving from another broker) is proven by the provider's identity call,
//! after a refresh when the access token is lapsed or left out. Either is stored only
//! once accepted.

use std::collections::BTreeMap;

use crate::auth::Principal;
use crate::catalog::{params, serving};
use crate::credentials::CredentialError;
use crate::error::{EngineError, EngineResult};
use crate::flows::Flows;
use crate::flows::views::ConnectionView;
use crate::model::connection::{self, Account, ConnectionDraft, ConnectionStatus, TokenSet};
use crate::model::event::{self, EventDraft, EventKind};
use crate::model::integration::Integration;
use crate::model::{ids, integration};
use crate::plugins::{PluginError, ProviderFailure};
use crate::util::secret::SecretString;

/// What an app imports.
#[derive(Debug, Clone, Default)]
pub struct Import {
    pub integration: String,
    pub credentials: BTreeMap<String, SecretString>,
    pub params: params::ParamValues,
}

/// The fields of an imported OAuth token set; `scope` as a token answer gives it.
const TOKEN_SET_FIELDS: [&str; 4] = ["accessToken", "refreshToken", "expiresIn", "scope"];

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
        let declared = serving::connection_params(&found.config);
        let values = params::complete(
            &declared,
            &params::accept_all(&declared, &import.params)?,
            &Default::default(),
        )?;
        let now = self.now();
        let draft = match self.providers.credential_spec(&found) {
            Some(spec) => {
                let spec = spec?;
                let (credentials, tokens) = self
                    .providers
                    .verify_credentials(&found, &spec, &values, &import.credentials, now)
                    .await?;
                ConnectionDraft {
                    project_id: principal.project_id.to_string(),
                    entity_id: entity_id.to_owned(),
                    integration: found.key.clone(),
                    provider: found.provider.clone(),
                    account: Account { id: spec.account_id(&credentials), email: None },
                    scopes: Vec::new(),
                    status: ConnectionStatus::Active,
                    params: values,
                    tokens,
                    recheck_at: spec.first_recheck(now),
                }
            }
            None => {
                let (account, scopes, tokens) =
                    self.proven_token_set(&found, &values, &import.credentials).await?;
                ConnectionDraft {
                    project_id: principal.project_id.to_string(),
                    entity_id: entity_id.to_owned(),
                    integration: found.key.clone(),
                    provider: found.provider.clone(),
                    account,
                    scopes,
                    status: ConnectionStatus::Active,
                    params: values,
                    tokens,
                    recheck_at: None,
                }
            }
        };
        let vault = self.vault.clone();
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

    /// An OAuth token set the app brings, proven at the provider: a lapsed or
    /// missing access token is first taken anew with the refresh token, then the
    /// provider's identity call says whose it is. Returns the account, the granted
    /// scopes (as given, else the integration's) and the tokens to store.
    async fn proven_token_set(
        &self,
        found: &Integration,
        values: &params::ParamValues,
        given: &BTreeMap<String, SecretString>,
    ) -> EngineResult<(Account, Vec<String>, TokenSet)> {
        if let Some(extra) = given.keys().find(|name| !TOKEN_SET_FIELDS.contains(&name.as_str())) {
            return Err(CredentialError::Unknown(extra.clone()).into());
        }
        let field = |name: &str| -> Result<Option<&str>, CredentialError> {
            let Some(value) = given.get(name).map(|v| v.expose().trim()).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            if value.len() > crate::credentials::MAX_VALUE || value.chars().any(char::is_control) {
                return Err(CredentialError::Malformed(name.to_owned()));
            }
            Ok(Some(value))
        };
        let expires_in = field("expiresIn")?
            .map(|text| text.parse::<u32>().map_err(|_| CredentialError::Malformed("expiresIn".into())))
            .transpose()?;
        let mut scopes = field("scope")?.map_or_else(
            || found.scopes.clone(),
            |text| text.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        );
        let refresh_token = field("refreshToken")?.map(SecretString::new);
        let now = self.now();
        let plugin = self.providers.of_integration(found)?;
        let target = self.providers.target(found, values).await?;
        let tokens = match field("accessToken")? {
            Some(access) if expires_in != Some(0) => TokenSet {
                access_token: SecretString::new(access),
                refresh_token,
                id_token: None,
                token_type: "Bearer".into(),
                expires_at: expires_in.map(|secs| now.plus_secs(i64::from(secs))),
            },
            _ => {
                let Some(refresh_token) = refresh_token else {
                    return Err(CredentialError::Missing("accessToken".into()).into());
                };
                let issued = plugin.refresh(&target, &refresh_token, &scopes).await.map_err(refused)?;
                if let Some(granted) = issued.scopes {
                    scopes = granted;
                }
                TokenSet {
                    access_token: issued.access_token,
                    refresh_token: issued.refresh_token.or(Some(refresh_token)),
                    id_token: issued.id_token,
                    token_type: issued.token_type,
                    expires_at: issued
                        .expires_in
                        .map(|secs| now.plus_secs(secs.min(i64::MAX as u64 / 1000) as i64)),
                }
            }
        };
        let who = plugin.identity(&target, &tokens.access_token).await.map_err(refused)?;
        Ok((Account { id: who.account_id, email: who.email }, scopes, tokens))
    }
}

/// The provider's refusal of imported tokens is the app's to fix (`credentials-rejected`);
/// its temporary failure, a broken configuration or a plugin's fault are not.
fn refused(error: PluginError) -> EngineError {
    match error {
        PluginError::Provider {
            failure:
                ProviderFailure::InvalidGrant(_)
                | ProviderFailure::InvalidClient(_)
                | ProviderFailure::AccessDenied(_)
                | ProviderFailure::InvalidScope(_)
                | ProviderFailure::Protocol(_),
            ..
        } => EngineError::CredentialsRejected { status: None },
        other => other.into(),
    }
}
