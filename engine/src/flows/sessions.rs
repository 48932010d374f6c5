//! Creating, reading, waiting on and expiring auth sessions.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::actors::{SessionExpirer, SessionTiming};
use crate::auth::{Principal, grants, session_agent};
use crate::catalog::{ParamValues, params, serving};
use crate::error::{EngineError, EngineResult, InternalError};
use crate::flows::Flows;
use crate::flows::device_code;
use crate::flows::oauth::{pkce, transaction};
use crate::flows::views::{SessionCreated, SessionView};
use crate::model::event::{self, EventDraft, EventKind};
use crate::model::session::{self, AuthSession, Flow, SessionProvider, SessionStatus};
use crate::model::{RecordError, connection, grant, ids, integration, project};
use crate::sharding::region::RegionWork;
use crate::util::clock::Rfc3339;

/// What an app asks for (`POST /v1/sessions`).
#[derive(Debug, Clone, Default)]
pub struct CreateSession {
    pub agent_id: String,
    pub entity_id: String,
    pub flow: Option<Flow>,
    /// Integration → requested scopes (empty: the integration's or provider's defaults).
    pub providers: BTreeMap<String, Vec<String>>,
    /// Integration → connection params the app passes (`{subdomain: "acme"}`); the
    /// connect page asks the user for those it does not.
    pub params: BTreeMap<String, ParamValues>,
    pub sxc_challenge: Option<String>,
    pub origin: Option<String>,
    pub expires_in: Option<Duration>,
    /// A connection of the entity to re-authorize, keeping its id (its integration
    /// is added to `providers` if left out).
    pub reconnect: Option<String>,
}

const MAX_PROVIDERS: usize = 10;
const MAX_SCOPES: usize = 50;
const MAX_WAIT: Duration = Duration::from_secs(60);

impl Flows {
    pub async fn create_session(
        &self,
        principal: &Principal,
        request: CreateSession,
    ) -> EngineResult<SessionCreated> {
        let flow = request
            .flow
            .ok_or_else(|| EngineError::Invalid("`flow` must be \"popup\" or \"device\"".into()))?;
        ids::check_app_id(&request.entity_id, "entityId")?;
        let tx = self.store.begin().await?;
        let agent = session_agent(&tx, principal, &request.agent_id).await?;
        let reconnecting = match &request.reconnect {
            Some(id) => Some(
                connection::get(&tx, &principal.project_id, &request.entity_id, id)
                    .await?
                    .ok_or(EngineError::NotFound("connection"))?,
            ),
            None => None,
        };
        let mut requested = request.providers.clone();
        if let Some(reconnecting) = &reconnecting {
            requested.entry(reconnecting.integration.clone()).or_default();
        }
        if requested.is_empty() || requested.len() > MAX_PROVIDERS {
            return Err(EngineError::Invalid(format!(
                "`providers` must name 1 to {MAX_PROVIDERS} integrations"
            )));
        }
        let project =
            project::get(&tx, &principal.project_id).await?.ok_or(EngineError::NotFound("project"))?;
        let mut providers = BTreeMap::new();
        for (key, scopes) in &requested {
            let reconnect = reconnecting.as_ref().filter(|c| &c.integration == key);
            if scopes.len() > MAX_SCOPES
                || scopes.iter().any(|s| s.is_empty() || s.len() > 512 || s.contains(char::is_whitespace))
            {
                return Err(EngineError::Invalid(format!(
                    "scopes of {key:?}: at most {MAX_SCOPES}, each 1 to 512 characters without spaces"
                )));
            }
            let found =
                integration::get(&tx, &project.id, key).await?.ok_or(EngineError::NotFound("integration"))?;
            let grant = grants::grant(&agent, key, self.now())?;
            let scopes = if !scopes.is_empty() {
                scopes.clone()
            } else if let Some(reconnect) = reconnect.filter(|c| !c.scopes.is_empty()) {
                reconnect.scopes.clone()
            } else if let Some(granted) = grant.scopes.as_ref().filter(|s| !s.is_empty()) {
                granted.clone()
            } else if !found.scopes.is_empty() {
                found.scopes.clone()
            } else {
                self.providers.default_scopes(&found)?
            };
            grants::check_scopes(&agent, key, &scopes, self.now())?;
            let declared = serving::connection_params(&found.config);
            // A reconnect keeps the values the user gave before, unless the app passes others.
            let mut given: ParamValues = reconnect
                .map(|c| {
                    params::missing(&declared, &ParamValues::new())
                        .iter()
                        .filter_map(|p| Some((p.name.clone(), c.params.get(&p.name)?.clone())))
                        .collect()
                })
                .unwrap_or_default();
            given.extend(request.params.get(key).cloned().unwrap_or_default());
            let params = params::accept_all(&declared, &given)
                .map_err(|e| EngineError::Invalid(format!("{key}: {e}")))?;
            let provider = SessionProvider {
                scopes,
                status: SessionStatus::Pending,
                connection_id: None,
                params,
                reconnect: reconnect.map(|c| c.id.clone()),
            };
            providers.insert(key.clone(), provider);
        }
        if let Some(key) = request.params.keys().find(|k| !providers.contains_key(*k)) {
            return Err(EngineError::Invalid(format!("params name {key:?}, which `providers` does not")));
        }
        drop(tx);
        let (sxc_challenge, origin) = match flow {
            Flow::Popup => {
                let challenge = request.sxc_challenge.clone().ok_or_else(|| {
                    EngineError::Invalid("`sxcChallenge` is required for the popup flow".into())
                })?;
                if !pkce::is_challenge(&challenge) {
                    return Err(EngineError::Invalid(
                        "`sxcChallenge` must be BASE64URL(SHA256(sxc)): 43 characters".into(),
                    ));
                }
                let origin = request
                    .origin
                    .clone()
                    .ok_or_else(|| EngineError::Invalid("`origin` is required for the popup flow".into()))?;
                if !project.origins.contains(&origin) {
                    return Err(EngineError::Forbidden(format!(
                        "origin {origin:?} is not among the project's allowed origins"
                    )));
                }
                (Some(challenge), Some(origin))
            }
            Flow::Device => (None, None),
        };
        let ttl = request.expires_in.unwrap_or(self.settings.session_ttl);
        if ttl.is_zero() || ttl > self.settings.max_session_ttl {
            return Err(EngineError::Invalid(format!(
                "`expiresIn` must be 1 to {} seconds",
                self.settings.max_session_ttl.as_secs()
            )));
        }
        let now = self.now();
        let interval = self.settings.device_interval.as_secs().max(1) as u32;
        let mut session = AuthSession {
            id: ids::mint("ses"),
            project_id: project.id.clone(),
            agent_id: agent.agent_id.clone(),
            entity_id: request.entity_id.clone(),
            flow,
            status: SessionStatus::Pending,
            providers,
            sxc_challenge,
            origin,
            device_code: None,
            interval_secs: interval,
            browser_binding: None,
            error: None,
            created_at: now,
            expires_at: now.plus_millis(ttl.as_millis() as i64),
        };
        // A device code must not collide with a live one: draw again if it does.
        for _ in 0..8 {
            session.device_code = (flow == Flow::Device).then(device_code::generate);
            let candidate = session.clone();
            let created = self
                .store
                .run(|tx| {
                    let s = candidate.clone();
                    async move { session::create(&tx, &s).await }
                })
                .await;
            match created {
                Ok(()) => return Ok(self.created_view(&session)),
                Err(RecordError::AlreadyExists(_)) if flow == Flow::Device => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(InternalError::NoFreeDeviceCode.into())
    }

    pub(super) fn created_view(&self, session: &AuthSession) -> SessionCreated {
        let public = &self.settings.public_url;
        let (auth_url, interval) = match session.flow {
            Flow::Popup => (format!("{public}/connect/{}", session.id), None),
            Flow::Device => (format!("{public}/device"), Some(session.interval_secs)),
        };
        SessionCreated {
            session_id: session.id.clone(),
            flow: session.flow,
            auth_url,
            device_auth_code: session.device_code.as_deref().map(device_code::display),
            interval,
            expires_at: Rfc3339(session.expires_at),
        }
    }

    /// A session of the caller's project; another project's answers `NotFound`.
    async fn owned_session(&self, principal: &Principal, session_id: &str) -> EngineResult<AuthSession> {
        let tx = self.store.begin().await?;
        match session::get(&tx, session_id).await? {
            Some(session) if *session.project_id == *principal.project_id => Ok(session),
            _ => Err(EngineError::NotFound("session")),
        }
    }

    /// `GET /v1/sessions/{id}`: the session's status. With `wait`, long-polls up to
    /// 60 s until the status changes. Short device-flow polls faster than the
    /// session's interval answer `SlowDown` with a longer interval.
    pub async fn session_status(
        &self,
        principal: &Principal,
        session_id: &str,
        wait: Option<Duration>,
    ) -> EngineResult<SessionView> {
        self.session_status_for(principal, None, session_id, wait).await
    }

    /// A session's status, for a caller limited to one entity's sessions (an agent
    /// token) when `entity_id` is given: another entity's answers `NotFound`.
    pub async fn session_status_for(
        &self,
        principal: &Principal,
        entity_id: Option<&str>,
        session_id: &str,
        wait: Option<Duration>,
    ) -> EngineResult<SessionView> {
        let session = self.owned_session(principal, session_id).await?;
        if entity_id.is_some_and(|entity_id| entity_id != session.entity_id) {
            return Err(EngineError::NotFound("session"));
        }
        let wait = wait.unwrap_or_default().min(MAX_WAIT);
        if session.flow == Flow::Device && wait.is_zero() {
            let work = RegionWork::PollSession {
                project_id: session.project_id.clone(),
                session_id: session.id.clone(),
            };
            if !self.forwarding.forwarded(work, "session").await? {
                self.sessions.poll(&session.id).await?;
            }
        }
        if wait.is_zero() || session.status.is_final() {
            return Ok(SessionView::from(&session));
        }
        let initial = session.status;
        let mut changes = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Re-read at least every second: a change made on another node does not notify us.
            let tick = tokio::time::Instant::now() + Duration::from_secs(1);
            let _ = tokio::time::timeout_at(deadline.min(tick), changes.changed()).await;
            let current = self.owned_session(principal, session_id).await?;
            if current.status != initial || tokio::time::Instant::now() >= deadline {
                return Ok(SessionView::from(&current));
            }
        }
    }

    pub(super) fn session_changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Expires a session if its time has come: status `expired`, an event, and its
    /// secrets (PKCE verifiers, pending grants, the device code) purged. Idempotent.
    async fn expire_session(&self, session_id: &str) -> EngineResult<bool> {
        let now = self.now();
        let session_id = session_id.to_owned();
        let expired = self
            .store
            .run(|tx| {
                let session_id = session_id.clone();
                async move {
                    let Some(mut session) = session::get(&tx, &session_id).await? else { return Ok(false) };
                    if session.status.is_final() {
                        session::unschedule(&tx, &session)?;
                        return Ok::<_, RecordError>(false);
                    }
                    if session.expires_at > now {
                        return Ok(false);
                    }
                    session.status = SessionStatus::Expired;
                    for provider in session.providers.values_mut().filter(|p| !p.status.is_final()) {
                        provider.status = SessionStatus::Expired;
                    }
                    transaction::purge_session(&tx, &session.id).await?;
                    grant::purge(&tx, &session.id)?;
                    session::unschedule(&tx, &session)?;
                    session::release_device_code(&tx, &session)?;
                    session::put(&tx, &session)?;
                    let draft = EventDraft {
                        entity_id: Some(session.entity_id.clone()),
                        session_id: Some(session.id.clone()),
                        status: Some("expired".into()),
                        ..EventDraft::default()
                    };
                    event::append(&tx, &session.project_id, EventKind::SessionExpired, draft, now).await?;
                    Ok(true)
                }
            })
            .await?;
        if expired {
            self.session_changed();
        }
        Ok(expired)
    }

    /// Expires every session past its time (the sweeper's work).
    pub async fn expire_due_sessions(&self) -> EngineResult<usize> {
        let now = self.now();
        let due = self.store.run(|tx| async move { session::due(&tx, now, 256).await }).await?;
        let mut expired = 0;
        for session_id in due {
            if self.expire_session(&session_id).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }
}

#[async_trait::async_trait]
impl SessionExpirer for Flows {
    async fn timing(&self, session_id: &str) -> EngineResult<Option<SessionTiming>> {
        let tx = self.store.begin().await?;
        let Some(record) = session::get(&tx, session_id).await? else { return Ok(None) };
        let expires_in = (!record.status.is_final())
            .then(|| Duration::from_millis((record.expires_at.0 - self.now().0).max(0) as u64));
        Ok(Some(SessionTiming { interval_secs: record.interval_secs, expires_in }))
    }

    async fn expire(&self, session_id: &str) -> EngineResult<bool> {
        self.expire_session(session_id).await
    }
}
