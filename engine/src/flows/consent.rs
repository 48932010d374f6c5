//! What the end-user pages drive: showing who asks for what, entering a device
//! code, sending the browser to the provider, and the provider's callback.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::catalog::entry::CredentialField;
use crate::catalog::{ConnectionParam, ParamValues, params, serving};
use crate::credentials::Spec;
use crate::error::{EngineError, EngineResult};
use crate::flows::Flows;
use crate::flows::device_code;
use crate::flows::oauth::{pkce, transaction};
use crate::model::connection::{self, Account, ConnectionDraft, ConnectionStatus, TokenSet};
use crate::model::event::{self, EventDraft, EventKind};
use crate::model::grant::{self, PendingGrant};
use crate::model::integration::Integration;
use crate::model::session::{self, AuthSession, Flow, SessionStatus};
use crate::model::{RecordError, integration, project};
use crate::plugins::AuthorizeParams;
use crate::store::StoreError;
use crate::util::secret::SecretString;

/// Everything the consent page shows.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentContext {
    pub session_id: String,
    pub project_name: String,
    pub agent_id: String,
    pub entity_id: String,
    pub flow: Flow,
    pub status: SessionStatus,
    /// Integration → (provider name, scopes, status).
    pub providers: Vec<ConsentProvider>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentProvider {
    pub integration: String,
    pub provider_name: String,
    pub scopes: Vec<String>,
    pub status: SessionStatus,
    /// The connection params the app did not pass, which the user types.
    pub asks: Vec<ConnectionParam>,
    /// For a credential provider: the fields the user types, and where to get them.
    pub credentials: Vec<CredentialField>,
    pub credentials_help_url: Option<String>,
}

/// What the user typed on the connect page for one provider.
#[derive(Debug, Clone, Default)]
pub struct Typed {
    /// Connection params the app left out.
    pub params: ParamValues,
    /// A credential provider's fields.
    pub credentials: BTreeMap<String, SecretString>,
}

/// What continuing to a provider comes to.
#[derive(Debug, Clone)]
pub enum Authorization {
    /// Send the browser to the provider's consent page.
    Redirect(String),
    /// Nothing to approve at the provider (a client-credentials grant): the step is done.
    Finished(CallbackOutcome),
}

impl Authorization {
    /// The provider's consent URL, if the browser goes there.
    pub fn redirect(self) -> Option<String> {
        match self {
            Authorization::Redirect(url) => Some(url),
            Authorization::Finished(_) => None,
        }
    }
}

/// Where the callback page sends the user next.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackOutcome {
    pub session_id: String,
    pub flow: Flow,
    pub status: SessionStatus,
    /// The app origin the popup reports to (`postMessage` target).
    pub origin: Option<String>,
}

fn binding(browser_id: &str) -> String {
    Sha256::digest(browser_id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn live(session: &AuthSession, now: crate::util::clock::Timestamp) -> EngineResult<()> {
    if session.status == SessionStatus::Expired || session.expires_at <= now {
        return Err(EngineError::Expired("session"));
    }
    if session.status.is_final() {
        return Err(EngineError::Conflict(
            format!("the session is already {:?}", session.status).to_lowercase(),
        ));
    }
    Ok(())
}

/// A session is driven only from the browser it is bound to: the one that entered
/// its device code, or the first to open its popup page.
fn check_browser(session: &AuthSession, browser_id: &str) -> EngineResult<()> {
    match &session.browser_binding {
        Some(bound) if bool::from(bound.as_bytes().ct_eq(binding(browser_id).as_bytes())) => Ok(()),
        _ => Err(EngineError::OtherBrowser("session")),
    }
}

impl Flows {
    async fn session_record(&self, session_id: &str) -> EngineResult<AuthSession> {
        let tx = self.store.begin().await?;
        session::get(&tx, session_id).await?.ok_or(EngineError::NotFound("session"))
    }

    /// The consent page's content for a live session, for any browser while a
    /// popup session is unbound (looking binds nothing: link previews and
    /// prefetches must not take a session), then only for its owner.
    pub async fn consent_context(&self, session_id: &str, browser_id: &str) -> EngineResult<ConsentContext> {
        let session = self.session_record(session_id).await?;
        live(&session, self.now())?;
        if !(session.flow == Flow::Popup && session.browser_binding.is_none()) {
            check_browser(&session, browser_id)?;
        }
        let tx = self.store.begin().await?;
        let project =
            project::get(&tx, &session.project_id).await?.ok_or(EngineError::NotFound("project"))?;
        let mut providers = Vec::new();
        for (key, requested) in &session.providers {
            let found = integration::get(&tx, &session.project_id, key).await?;
            // The catalog's name, the configuration's (a generic provider's), the
            // plugin's, or the integration's key.
            let provider_name = found
                .as_ref()
                .and_then(|found| {
                    let configured = found.config.get("name").and_then(|n| n.as_str()).map(str::to_owned);
                    (self.providers.catalog().get(&found.provider).map(|entry| entry.name.clone()))
                        .or(configured)
                        .or_else(|| self.providers.get(&found.provider).ok().map(|p| p.info().name.clone()))
                })
                .unwrap_or_else(|| key.clone());
            let declared = found.as_ref().map(|f| serving::connection_params(&f.config)).unwrap_or_default();
            let spec = found.as_ref().and_then(|f| Spec::of(&f.config)).and_then(Result::ok);
            providers.push(ConsentProvider {
                integration: key.clone(),
                provider_name,
                scopes: requested.scopes.clone(),
                status: requested.status,
                asks: params::missing(&declared, &requested.params).into_iter().cloned().collect(),
                credentials: spec.as_ref().map(|s| s.fields.clone()).unwrap_or_default(),
                credentials_help_url: spec.and_then(|s| s.help_url),
            });
        }
        Ok(ConsentContext {
            session_id: session.id.clone(),
            project_name: project.name,
            agent_id: session.agent_id.clone(),
            entity_id: session.entity_id.clone(),
            flow: session.flow,
            status: session.status,
            providers,
        })
    }

    /// A live session that `browser_id` may drive; an unbound popup session is bound
    /// to it first: the first browser to act on a popup's page (continue or decline)
    /// owns it (a device session's owner is the browser that entered its code).
    async fn browser_session(&self, session_id: &str, browser_id: &str) -> EngineResult<AuthSession> {
        let mut session = self.session_record(session_id).await?;
        live(&session, self.now())?;
        if session.flow == Flow::Popup && session.browser_binding.is_none() {
            session = self.bind_popup(session_id, browser_id).await?;
        }
        check_browser(&session, browser_id)?;
        Ok(session)
    }

    /// Binds an unbound popup session to `browser_id`; a race with another browser
    /// leaves the first binding, which the caller then checks against.
    async fn bind_popup(&self, session_id: &str, browser_id: &str) -> EngineResult<AuthSession> {
        let bound = binding(browser_id);
        let session_id = session_id.to_owned();
        Ok(self
            .store
            .run(|tx| {
                let (session_id, bound) = (session_id.clone(), bound.clone());
                async move {
                    let mut session =
                        session::get(&tx, &session_id).await?.ok_or(RecordError::NotFound("session"))?;
                    if session.browser_binding.is_none() {
                        session.browser_binding = Some(bound);
                        session::put(&tx, &session)?;
                    }
                    Ok::<_, RecordError>(session)
                }
            })
            .await?)
    }

    /// A user typed a device code on `/device`. Wrong codes are limited per client
    /// (`client`: its address, as the server keys it), per browser and globally (see
    /// `device_guard`); the first browser to enter a code owns it.
    pub async fn enter_device_code(
        &self,
        typed: &str,
        client: &str,
        browser_id: &str,
    ) -> EngineResult<String> {
        let guard = &self.device_guard;
        if browser_id.len() < 16 || browser_id.len() > 128 {
            return Err(EngineError::Invalid("missing browser id".into()));
        }
        let bound = binding(browser_id);
        if !guard.allows(client, &bound) {
            return Err(EngineError::RateLimited);
        }
        let miss = || {
            guard.record_miss(client, &bound);
            EngineError::NotFound("device code")
        };
        let code = device_code::normalize(typed).ok_or_else(miss)?;
        let now = self.now();
        let found = self
            .store
            .run(|tx| {
                let (code, bound) = (code.clone(), bound.clone());
                async move {
                    let Some(mut session) = session::find_by_device_code(&tx, &code).await? else {
                        return Ok(None);
                    };
                    if session.status.is_final() || session.expires_at <= now {
                        return Ok(None);
                    }
                    match &session.browser_binding {
                        Some(existing) if *existing != bound => return Ok(Some(Err(()))),
                        Some(_) => {}
                        None => {
                            session.browser_binding = Some(bound);
                            session::put(&tx, &session)?;
                        }
                    }
                    Ok::<_, RecordError>(Some(Ok(session.id)))
                }
            })
            .await?;
        match found {
            Some(Ok(session_id)) => Ok(session_id),
            Some(Err(())) => Err(EngineError::OtherBrowser("device code")),
            None => Err(miss()),
        }
    }

    /// Starts the authorization of one provider with the connection params the user
    /// `typed` for those the app left out: PKCE and a single-use `state` bound to
    /// this session and integration, and the provider's consent URL. A
    /// client-credentials provider has nothing for the user to approve: its token is
    /// taken at once; a credential provider's typed credentials are checked at the
    /// provider and, only once accepted, stored.
    pub async fn begin_authorization(
        &self,
        session_id: &str,
        integration_key: &str,
        browser_id: &str,
        typed: &Typed,
    ) -> EngineResult<Authorization> {
        let session = self.browser_session(session_id, browser_id).await?;
        let requested =
            session.providers.get(integration_key).ok_or(EngineError::NotFound("integration"))?.clone();
        let tx = self.store.begin().await?;
        let found = integration::get(&tx, &session.project_id, integration_key)
            .await?
            .ok_or(EngineError::NotFound("integration"))?;
        drop(tx);
        let values =
            params::complete(&serving::connection_params(&found.config), &requested.params, &typed.params)?;
        if let Some(spec) = self.providers.credential_spec(&found) {
            let spec = spec?;
            let (credentials, tokens) = self
                .providers
                .verify_credentials(&found, &spec, &values, &typed.credentials, self.now())
                .await?;
            let granted = Granted {
                integration: integration_key.to_owned(),
                provider: found.provider.clone(),
                account: Account { id: spec.account_id(&credentials), email: None },
                scopes: Vec::new(),
                params: values,
                tokens,
                recheck_at: spec.first_recheck(self.now()),
            };
            let outcome = self.record_grant(&session.id, granted).await?;
            self.session_changed();
            return Ok(Authorization::Finished(outcome));
        }
        if serving::is_client_credentials(&found.config) {
            let granted = self.grant(&session, integration_key, &found, values, "", None).await?;
            return Ok(Authorization::Finished(granted));
        }
        let plugin = self.providers.of_integration(&found)?;
        let target = self.providers.target(&found, &values).await?;
        let state = pkce::random_token();
        let verifier = plugin.info().supports_pkce.then(pkce::random_token);
        let params = AuthorizeParams {
            scopes: requested.scopes.clone(),
            state: state.expose().to_owned(),
            code_challenge: verifier.as_ref().map(|v| pkce::s256(v.expose())),
            login_hint: None,
        };
        let url = plugin.authorize_url(&target, params).await?;
        let vault = self.vault.clone();
        let (session_id, integration_key) = (session.id.clone(), integration_key.to_owned());
        let bound = binding(browser_id);
        self.store
            .run(|tx| {
                let (vault, state, verifier, session_id, integration_key, bound, values) = (
                    vault.clone(),
                    state.clone(),
                    verifier.clone(),
                    session_id.clone(),
                    integration_key.clone(),
                    bound.clone(),
                    values.clone(),
                );
                async move {
                    let mut session =
                        session::get(&tx, &session_id).await?.ok_or(RecordError::NotFound("session"))?;
                    let step = transaction::NewStep {
                        state: &state,
                        session_id: &session_id,
                        integration: &integration_key,
                        verifier: verifier.as_ref(),
                        expires_at: session.expires_at,
                        browser_binding: &bound,
                    };
                    transaction::begin(&tx, &vault, step).await?;
                    if let Some(provider) = session.providers.get_mut(&integration_key) {
                        provider.status = SessionStatus::Authorizing;
                        provider.params = values.clone();
                    }
                    session.status = SessionStatus::Authorizing;
                    session::put(&tx, &session)
                }
            })
            .await?;
        self.session_changed();
        Ok(Authorization::Redirect(url))
    }

    /// The provider sent the browser back. `state` names the one transaction it
    /// answers (used once, and only by the browser that started it: a link carried
    /// to another browser changes nothing); a code is exchanged only with that
    /// transaction's provider, and `iss`, when present, must be that provider's issuer.
    pub async fn oauth_callback(
        &self,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
        iss: Option<&str>,
        browser_id: &str,
    ) -> EngineResult<CallbackOutcome> {
        let now = self.now();
        let vault = self.vault.clone();
        let (state_owned, bound) = (state.to_owned(), binding(browser_id));
        let taken = self
            .store
            .run(|tx| {
                let (vault, state, bound) = (vault.clone(), state_owned.clone(), bound.clone());
                async move { transaction::take(&tx, &vault, &state, &bound).await }
            })
            .await?;
        let (oauth_tx, verifier) = match taken {
            transaction::Taken::Taken(record, verifier) => (record, verifier),
            transaction::Taken::OtherBrowser => return Err(EngineError::OtherBrowser("authorization")),
            transaction::Taken::Missing => return Err(EngineError::NotFound("authorization")),
        };
        let session = self.session_record(&oauth_tx.session_id).await?;
        live(&session, now)?;
        let tx = self.store.begin().await?;
        let found = integration::get(&tx, &session.project_id, &oauth_tx.integration)
            .await?
            .ok_or(EngineError::NotFound("integration"))?;
        drop(tx);
        if let Some(error) = error {
            let status = if error == "access_denied" { SessionStatus::Denied } else { SessionStatus::Failed };
            return self
                .finish_with(
                    &session,
                    &oauth_tx.integration,
                    status,
                    Some(format!("the provider answered {error}")),
                )
                .await;
        }
        let expected_issuer = found.config.get("issuer").and_then(|v| v.as_str());
        if let (Some(iss), Some(expected)) = (iss, expected_issuer)
            && iss != expected
        {
            return Err(EngineError::Forbidden("the authorization response came from another issuer".into()));
        }
        let code = code
            .filter(|c| !c.is_empty() && c.len() <= 4096)
            .ok_or_else(|| EngineError::Invalid("the callback carries no code".into()))?;
        let params =
            session.providers.get(&oauth_tx.integration).map(|p| p.params.clone()).unwrap_or_default();
        self.grant(
            &session,
            &oauth_tx.integration,
            &found,
            params,
            code,
            verifier.as_ref().map(|v| v.expose()),
        )
        .await
    }

    /// Takes the provider's token set (for `code`, or by the client-credentials
    /// grant), asks who the account is and records the grant; a provider that fails
    /// ends the session with the reason.
    async fn grant(
        &self,
        session: &AuthSession,
        integration_key: &str,
        found: &Integration,
        params: ParamValues,
        code: &str,
        verifier: Option<&str>,
    ) -> EngineResult<CallbackOutcome> {
        let now = self.now();
        let plugin = self.providers.of_integration(found)?;
        let target = self.providers.target(found, &params).await?;
        let exchanged = async {
            let issued = plugin.exchange_code(&target, code, verifier).await?;
            let known = params.clone();
            let params = self.params_from_grant(&plugin, found, params, &issued).await?;
            // Params the grant named change the URLs: the identity call needs them filled.
            let target = if params == known { target } else { self.providers.target(found, &params).await? };
            let who = plugin.identity(&target, &issued.access_token).await?;
            Ok::<_, EngineError>((issued, who, params))
        }
        .await;
        let (issued, who, params) = match exchanged {
            Ok(done) => done,
            Err(error) => {
                tracing::warn!(session = %session.id, %error, "taking the provider's token failed");
                return self
                    .finish_with(session, integration_key, SessionStatus::Failed, Some(error.to_string()))
                    .await;
            }
        };
        let requested = session.providers.get(integration_key).map(|p| p.scopes.clone()).unwrap_or_default();
        let tokens = TokenSet {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
            id_token: issued.id_token,
            token_type: issued.token_type,
            expires_at: issued.expires_in.map(|secs| now.plus_secs(secs.min(i64::MAX as u64 / 1000) as i64)),
        };
        let account = Account { id: who.account_id, email: who.email };
        let scopes = issued.scopes.unwrap_or(requested);
        let granted = Granted {
            integration: integration_key.to_owned(),
            provider: found.provider.clone(),
            account,
            scopes,
            params,
            tokens,
            recheck_at: None,
        };
        let outcome = match self.record_grant(&session.id, granted).await {
            Ok(outcome) => outcome,
            // A grant past a record's limits ends the session with the reason instead
            // of leaving it `authorizing`; any other failure (the store away) is the
            // caller's to retry.
            Err(EngineError::Store(
                error @ (StoreError::ValueTooLarge { .. } | StoreError::TransactionTooLarge { .. }),
            )) => {
                tracing::warn!(session = %session.id, %error, "the grant could not be stored");
                let reason = "the provider's grant is too large to store".to_owned();
                return self.finish_with(session, integration_key, SessionStatus::Failed, Some(reason)).await;
            }
            Err(error) => return Err(error),
        };
        self.session_changed();
        Ok(outcome)
    }

    /// Stores what a provider granted: a device session connects at once; a popup
    /// session parks the grant until the app confirms with `sxc`.
    async fn record_grant(&self, session_id: &str, granted: Granted) -> EngineResult<CallbackOutcome> {
        let now = self.now();
        let vault = self.vault.clone();
        let session_id = session_id.to_owned();
        self.store
            .run(|tx| {
                let (vault, session_id, granted) = (vault.clone(), session_id.clone(), granted.clone());
                async move {
                    let mut session =
                        session::get(&tx, &session_id).await?.ok_or(RecordError::NotFound("session"))?;
                    let done = match session.flow {
                        Flow::Device => {
                            let draft = ConnectionDraft {
                                project_id: session.project_id.clone(),
                                entity_id: session.entity_id.clone(),
                                integration: granted.integration.clone(),
                                provider: granted.provider,
                                account: granted.account,
                                scopes: granted.scopes,
                                status: ConnectionStatus::Active,
                                params: granted.params.clone(),
                                tokens: granted.tokens,
                                recheck_at: granted.recheck_at,
                            };
                            let reconnect = session
                                .providers
                                .get(&granted.integration)
                                .and_then(|p| p.reconnect.as_deref());
                            let (connection, created) =
                                connection::store_grant(&tx, &vault, draft, reconnect, now).await?;
                            let kind = if created {
                                EventKind::ConnectionCreated
                            } else {
                                EventKind::ConnectionUpdated
                            };
                            let draft = EventDraft {
                                entity_id: Some(session.entity_id.clone()),
                                session_id: Some(session.id.clone()),
                                connection_id: Some(connection.id.clone()),
                                status: Some("active".into()),
                            };
                            event::append(&tx, &session.project_id, kind, draft, now).await?;
                            (SessionStatus::Completed, Some(connection.id))
                        }
                        Flow::Popup => {
                            let mut pending = PendingGrant::new(
                                &vault,
                                &session.id,
                                &granted.integration,
                                &granted.provider,
                                granted.account,
                                granted.scopes,
                                &granted.tokens,
                            )?;
                            pending.recheck_at = granted.recheck_at;
                            grant::put(&tx, &pending)?;
                            (SessionStatus::AwaitingConfirmation, None)
                        }
                    };
                    if let Some(entry) = session.providers.get_mut(&granted.integration) {
                        entry.status = done.0;
                        entry.connection_id = done.1;
                        entry.params = granted.params;
                    }
                    advance(&tx, &mut session, now).await?;
                    session::put(&tx, &session)?;
                    Ok::<_, EngineError>(CallbackOutcome {
                        session_id: session.id.clone(),
                        flow: session.flow,
                        status: session.status,
                        origin: session.origin.clone(),
                    })
                }
            })
            .await
    }

    /// Ends a session because a provider refused or failed.
    async fn finish_with(
        &self,
        session: &AuthSession,
        integration_key: &str,
        status: SessionStatus,
        reason: Option<String>,
    ) -> EngineResult<CallbackOutcome> {
        let now = self.now();
        let (session_id, integration_key) = (session.id.clone(), integration_key.to_owned());
        let outcome = self
            .store
            .run(|tx| {
                let (session_id, integration_key, reason) =
                    (session_id.clone(), integration_key.clone(), reason.clone());
                async move {
                    let mut session =
                        session::get(&tx, &session_id).await?.ok_or(RecordError::NotFound("session"))?;
                    if let Some(entry) = session.providers.get_mut(&integration_key) {
                        entry.status = status;
                    }
                    session.status = status;
                    session.error = reason;
                    transaction::purge_session(&tx, &session.id).await?;
                    grant::purge(&tx, &session.id)?;
                    session::unschedule(&tx, &session)?;
                    session::release_device_code(&tx, &session)?;
                    session::put(&tx, &session)?;
                    let kind = if status == SessionStatus::Denied {
                        EventKind::SessionDenied
                    } else {
                        EventKind::SessionFailed
                    };
                    let draft = EventDraft {
                        entity_id: Some(session.entity_id.clone()),
                        session_id: Some(session.id.clone()),
                        status: Some(format!("{status:?}").to_lowercase()),
                        ..EventDraft::default()
                    };
                    event::append(&tx, &session.project_id, kind, draft, now).await?;
                    Ok::<_, RecordError>(CallbackOutcome {
                        session_id: session.id.clone(),
                        flow: session.flow,
                        status: session.status,
                        origin: session.origin.clone(),
                    })
                }
            })
            .await?;
        self.session_changed();
        Ok(outcome)
    }

    /// The user said no on the consent page.
    pub async fn deny_session(&self, session_id: &str, browser_id: &str) -> EngineResult<CallbackOutcome> {
        let session = self.browser_session(session_id, browser_id).await?;
        let first = session.providers.keys().next().cloned().unwrap_or_default();
        self.finish_with(&session, &first, SessionStatus::Denied, Some("the user declined".into())).await
    }
}

/// What a provider granted, as `record_grant` stores it.
#[derive(Clone)]
struct Granted {
    integration: String,
    provider: String,
    account: Account,
    scopes: Vec<String>,
    params: ParamValues,
    tokens: TokenSet,
    recheck_at: Option<crate::util::clock::Timestamp>,
}

/// Moves a session forward once every provider is done: a device session
/// completes (with its event); a popup session waits for the app's confirmation.
pub(crate) async fn advance(
    tx: &crate::store::Tx,
    session: &mut AuthSession,
    now: crate::util::clock::Timestamp,
) -> Result<(), RecordError> {
    let all = |status: SessionStatus| session.providers.values().all(|p| p.status == status);
    if session.flow == Flow::Device && all(SessionStatus::Completed) {
        session.status = SessionStatus::Completed;
        session::unschedule(tx, session)?;
        session::release_device_code(tx, session)?;
        let draft = EventDraft {
            entity_id: Some(session.entity_id.clone()),
            session_id: Some(session.id.clone()),
            status: Some("completed".into()),
            ..EventDraft::default()
        };
        event::append(tx, &session.project_id, EventKind::SessionCompleted, draft, now).await?;
    } else if session.flow == Flow::Popup && all(SessionStatus::AwaitingConfirmation) {
        session.status = SessionStatus::AwaitingConfirmation;
    }
    Ok(())
}
