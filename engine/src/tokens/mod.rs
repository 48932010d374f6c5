//! An entity's connections: listing, revoking, and keeping access tokens fresh.
//!
//! Refresh rules: refresh ahead of expiry by a margin that scales with the token's
//! lifetime (10 %, between 5 s and 5 min); before refreshing, re-read the stored
//! tokens and skip if someone already refreshed; a rotated refresh token is stored
//! before the answer goes out; `invalid_grant` first re-reads (a rotated token
//! means a race, not a dead grant), then marks the connection `reauth_required`
//! with an event; transient failures retry with backoff.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::actors::{Entities, TokenRefresher};
use crate::auth::Principal;
use crate::error::{EngineError, EngineResult};
use crate::flows::views::ConnectionView;
use crate::model::connection::{self, Connection, ConnectionStatus, TokenSet};
use crate::model::event::{self, EventDraft, EventKind};
use crate::model::keys::SHARDS;
use crate::model::{RecordError, ids, integration, refresh_due, refresh_lock};
use crate::providers::Providers;
use crate::sharding::placement::Placement;
use crate::sharding::region::{Forwarding, RegionWork};
use crate::store::Store;
use crate::util::clock::{Clock, Timestamp};
use crate::util::secret::SecretString;
use crate::vault::Vault;

const REFRESH_ATTEMPTS: u32 = 3;

/// What trying to take a connection's refresh lock found.
enum Claim {
    /// This engine holds it: refresh.
    Mine,
    /// Another engine holds it: wait for its result.
    Busy,
    /// The connection changed since it was read: read it again.
    Stale,
}
/// Due renewals read per shard and round of the background refresher.
const DUE_PER_SHARD: usize = 64;
/// Renewals under way at once, per node: they mostly wait on token endpoints.
const RENEWALS_AT_ONCE: usize = 64;
/// Renewals under way at once per integration (one OAuth client, one rate limit):
/// a quarter of the node's, so one slow provider cannot take them all.
const RENEWALS_PER_INTEGRATION: usize = 16;
/// When a renewal the provider failed for now is first tried again; the wait
/// doubles with each failure, up to `RENEWAL_RETRY_MAX`.
const RENEWAL_RETRY: Duration = Duration::from_secs(30);
const RENEWAL_RETRY_MAX: Duration = Duration::from_secs(3600);
/// How long a provider may fail a connection's renewals before the connection
/// is given up as `reauth_required`: a grant that cannot be renewed for a day is
/// as good as dead, and the app should hear of it.
const RENEWAL_GIVE_UP: Duration = Duration::from_secs(24 * 3600);

/// The wait before trying a renewal again after its `failures`-th failure in a row.
fn retry_after(failures: u32) -> Duration {
    RENEWAL_RETRY.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(RENEWAL_RETRY_MAX)
}

/// A failure that says nothing of the grant: the provider or the cluster, for now.
fn is_temporary(error: &EngineError) -> bool {
    match error {
        EngineError::Provider(error) => error.is_transient(),
        EngineError::Upstream(_) | EngineError::RefreshBusy | EngineError::Store(_) => true,
        _ => false,
    }
}

/// How long a refresh may hold a connection's cluster-wide lock.
const REFRESH_LOCK: Duration = Duration::from_secs(15);
/// How long a caller waits for another engine's refresh, and how often it looks.
const REFRESH_WAIT: Duration = Duration::from_secs(20);
const REFRESH_POLL: Duration = Duration::from_millis(50);

/// Whether a token that expires at `expires_at` (issued at `issued_at`) should be
/// refreshed now.
pub fn needs_refresh(issued_at: Timestamp, expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|expires_at| now >= crate::model::refresh_due::due_at(issued_at, expires_at))
}

/// The room that keeps an entity's connections and their tokens. Its entity
/// actors hold it weakly, as their `TokenRefresher`.
pub(crate) struct Tokens {
    store: Store,
    vault: Vault,
    providers: Providers,
    clock: Arc<dyn Clock>,
    forwarding: Forwarding,
    /// Which shards' due renewals this node's refresher takes.
    placement: Arc<dyn Placement>,
    /// This room's name in cluster-wide refresh locks.
    instance_id: String,
    entities: Entities,
}

impl Tokens {
    /// `actor_idle`: how long an idle entity actor stays in memory.
    pub fn new(
        store: Store,
        vault: Vault,
        providers: Providers,
        clock: Arc<dyn Clock>,
        forwarding: Forwarding,
        placement: Arc<dyn Placement>,
        actor_idle: Duration,
    ) -> Arc<Tokens> {
        // Its actors get a weak handle: a strong one would loop through their registry.
        Arc::new_cyclic(|me: &Weak<Tokens>| {
            let refresher: Weak<dyn TokenRefresher> = me.clone();
            Tokens {
                store,
                vault,
                providers,
                clock,
                forwarding,
                placement,
                instance_id: ids::mint("eng"),
                entities: Entities::new(refresher, actor_idle),
            }
        })
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The owner's side of a peer's `RegionWork::FreshToken`: the token brought up
    /// to date by this node's entity actor (the peer reads it from the store).
    pub async fn refresh_for_peer(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<()> {
        self.entities.access_token(project_id, entity_id, connection_id).await.map(drop)
    }

    /// A round trip to an entity's actor, activating it if it sleeps.
    pub async fn ping_entity(&self, project_id: &str, entity_id: &str) -> EngineResult<()> {
        self.entities.ping(project_id, entity_id).await
    }

    /// Tests only: makes an entity's actor panic.
    pub async fn crash_entity_actor(&self, project_id: &str, entity_id: &str) -> EngineResult<()> {
        self.entities.crash(project_id, entity_id).await
    }

    /// Active entity actors on this node.
    pub fn active_actors(&self) -> usize {
        self.entities.active()
    }

    pub fn stop_actors(&self) {
        self.entities.stop_all();
    }

    /// Makes one of the entity's connections the one the proxy uses for its
    /// integration when a call names none.
    pub async fn make_default(
        &self,
        principal: &Principal,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<ConnectionView> {
        let (project_id, entity_id, connection_id) =
            (principal.project_id.to_string(), entity_id.to_owned(), connection_id.to_owned());
        let chosen = self
            .store
            .run(|tx| {
                let (project_id, entity_id, connection_id) =
                    (project_id.clone(), entity_id.clone(), connection_id.clone());
                async move {
                    let found = connection::get(&tx, &project_id, &entity_id, &connection_id)
                        .await?
                        .ok_or(EngineError::NotFound("connection"))?;
                    if found.status == ConnectionStatus::Revoked {
                        return Err(EngineError::Conflict(
                            "a revoked connection cannot be the default".into(),
                        ));
                    }
                    connection::set_default(&tx, &found)?;
                    Ok::<_, EngineError>(found)
                }
            })
            .await?;
        let tx = self.store.begin().await?;
        let mut views =
            ConnectionView::of_entity(&tx, &chosen.project_id, &entity_id, |c| c.id == chosen.id).await?;
        views.pop().ok_or(EngineError::NotFound("connection"))
    }

    pub async fn list_connections(
        &self,
        principal: &Principal,
        entity_id: &str,
    ) -> EngineResult<Vec<ConnectionView>> {
        crate::model::ids::check_app_id(entity_id, "entity id")?;
        let tx = self.store.begin().await?;
        ConnectionView::of_entity(&tx, &principal.project_id, entity_id, |_| true).await
    }

    /// Revokes at the provider when it can, then deletes the vaulted tokens.
    pub async fn delete_connection(
        &self,
        principal: &Principal,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<()> {
        crate::model::ids::check_app_id(entity_id, "entity id")?;
        let tx = self.store.begin().await?;
        let found = connection::get(&tx, &principal.project_id, entity_id, connection_id)
            .await?
            .ok_or(EngineError::NotFound("connection"))?;
        let integration = integration::get(&tx, &principal.project_id, &found.integration).await?;
        drop(tx);
        let plugin = integration.as_ref().and_then(|i| self.providers.of_integration(i).ok());
        if let (Some(integration), Some(plugin)) = (&integration, plugin)
            && plugin.info().supports_revoke
        {
            let tokens = found.tokens(&self.vault).await?;
            let target = self.providers.target(integration, &found.params).await?;
            if let Err(error) =
                plugin.revoke(&target, &tokens.access_token, tokens.refresh_token.as_ref()).await
            {
                // The tokens are deleted either way; the provider's grant may outlive us.
                tracing::warn!(connection = %connection_id, %error, "revocation at the provider failed");
            }
        }
        let now = self.now();
        let (project_id, entity_id, connection_id) =
            (principal.project_id.clone(), entity_id.to_owned(), connection_id.to_owned());
        self.store
            .run(|tx| {
                let (project_id, entity_id, connection_id) =
                    (project_id.clone(), entity_id.clone(), connection_id.clone());
                async move {
                    connection::delete(&tx, &project_id, &entity_id, &connection_id).await?;
                    let draft = EventDraft {
                        entity_id: Some(entity_id.clone()),
                        connection_id: Some(connection_id.clone()),
                        status: Some("revoked".into()),
                        ..EventDraft::default()
                    };
                    event::append(&tx, &project_id, EventKind::ConnectionRevoked, draft, now).await?;
                    Ok::<_, RecordError>(())
                }
            })
            .await?;
        Ok(())
    }

    /// A usable access token, through the entity's actor (which serializes
    /// refreshes): the owner's, when another node owns the entity's shard and can be
    /// reached, else this node's. The store's refresh lock serializes refreshes across
    /// engines either way.
    pub(crate) async fn access_token(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<(Connection, SecretString)> {
        let work = RegionWork::FreshToken {
            project_id: project_id.to_owned(),
            entity_id: entity_id.to_owned(),
            connection_id: connection_id.to_owned(),
        };
        if self.forwarding.forwarded(work, "connection").await? {
            // The owner brought the token up to date; read what it stored.
            let current = self.usable_connection(project_id, entity_id, connection_id).await?;
            let tokens = current.tokens(&self.vault).await?;
            return Ok((current, tokens.access_token));
        }
        self.entities.access_token(project_id, entity_id, connection_id).await
    }

    /// A `jwt` connection's next token, taken with a new assertion its vaulted key
    /// (`key`) signs, while this node holds the connection's refresh lock. A key the
    /// provider now refuses makes the connection `reauth_required`.
    async fn renew_with_key(
        &self,
        current: Connection,
        found: &crate::model::integration::Integration,
        spec: crate::credentials::Spec,
        key: &SecretString,
        now: Timestamp,
    ) -> EngineResult<(Connection, SecretString)> {
        let minted = match crate::credentials::Credentials::unsealed(key) {
            Some(credentials) => self.providers.mint(found, &spec, &current.params, &credentials, now).await,
            None => Err(EngineError::Invalid("the connection holds no key".into())),
        };
        match minted {
            Ok(renewed) => {
                let stored = self.store_refreshed(current, renewed.clone(), None).await?;
                Ok((stored, renewed.access_token))
            }
            Err(EngineError::CredentialsRejected { .. }) => {
                self.mark_reauth_required(&current).await?;
                self.release_refresh(&current).await;
                Err(EngineError::ReauthRequired)
            }
            Err(error) => {
                self.release_refresh(&current).await;
                Err(error)
            }
        }
    }

    /// Renews what is due (`model::refresh_due`) before any call needs it:
    /// `RENEWALS_AT_ONCE` at a time, `RENEWALS_PER_INTEGRATION` of one integration.
    /// A token is renewed through the entity's owner exactly as an on-demand
    /// refresh goes (single-flight, fenced); credentials their entry re-checks are
    /// checked at the provider. A refusal makes the connection `reauth_required` and
    /// says so in an event; a provider's temporary failure is tried again later with
    /// backoff, the connection's status unchanged, until it has failed for
    /// `RENEWAL_GIVE_UP`. Returns how many connections came out renewed.
    pub async fn renew_due(&self) -> EngineResult<usize> {
        let (tx, now) = (self.store.begin().await?, self.now());
        let mut due = Vec::new();
        for shard in (0..SHARDS).filter(|shard| self.placement.owns(*shard)) {
            due.extend(refresh_due::due(&tx, shard, now, DUE_PER_SHARD).await?);
        }
        drop(tx);
        let outcomes = crate::util::bounded::run(
            due,
            refresh_due::Due::integration_key,
            RENEWALS_PER_INTEGRATION,
            RENEWALS_AT_ONCE,
            |due| self.renew(due),
        )
        .await;
        Ok(outcomes.into_iter().filter(|renewed| *renewed).count())
    }

    /// One due renewal; its entry is done with either way (a renewal schedules the
    /// next one), or moved to a retry.
    async fn renew(&self, due: refresh_due::Due) -> bool {
        let outcome = match self.load_connection(&due.project_id, &due.entity_id, &due.connection_id).await {
            Ok(current) if current.status != ConnectionStatus::Active => Err(EngineError::ReauthRequired),
            Ok(current) if current.expires_at.is_none() && current.recheck_at.is_some() => {
                self.recheck(current).await
            }
            Ok(_) => self.access_token(&due.project_id, &due.entity_id, &due.connection_id).await.map(drop),
            Err(error) => Err(error),
        };
        let retry = match &outcome {
            Err(error) if is_temporary(error) => self.after_failure(&due, error).await,
            _ => None,
        };
        let settled = self
            .store
            .run(|tx| {
                let (due, retry) = (due.clone(), retry.clone());
                async move {
                    refresh_due::clear(&tx, &due)?;
                    retry.map_or(Ok(()), |retry| refresh_due::put(&tx, &retry))
                }
            })
            .await;
        if let Err(error) = settled {
            tracing::warn!(%error, "a renewal's schedule could not be updated");
        }
        outcome.is_ok()
    }

    /// Where a renewal the provider failed for now goes next: a later retry, or,
    /// once it has failed for `RENEWAL_GIVE_UP`, nowhere (the connection is then
    /// `reauth_required`).
    async fn after_failure(&self, due: &refresh_due::Due, error: &EngineError) -> Option<refresh_due::Due> {
        let now = self.now();
        let failing_since = due.state.failing_since.unwrap_or(now);
        if now.0 - failing_since.0 >= RENEWAL_GIVE_UP.as_millis() as i64 {
            tracing::warn!(connection = %due.connection_id, %error, "renewals have failed for a day; giving the connection up");
            let given_up =
                match self.load_connection(&due.project_id, &due.entity_id, &due.connection_id).await {
                    Ok(current) => self.mark_reauth_required(&current).await,
                    Err(error) => Err(error),
                };
            if let Err(error) = given_up {
                tracing::warn!(%error, "a connection whose renewals kept failing could not be given up");
            }
            return None;
        }
        let failures = due.state.failures.saturating_add(1);
        tracing::info!(connection = %due.connection_id, %error, failures, "a renewal failed for now; trying again later");
        Some(refresh_due::Due {
            at: now.plus_millis(retry_after(failures).as_millis() as i64),
            state: refresh_due::DueState {
                failing_since: Some(failing_since),
                failures,
                ..due.state.clone()
            },
            ..due.clone()
        })
    }

    /// Checks a connection's credentials at the provider again, as its entry asks;
    /// a refusal makes it `reauth_required`, an acceptance schedules the next check.
    async fn recheck(&self, current: Connection) -> EngineResult<()> {
        let found = self.integration_of(&current).await?;
        // An integration no longer served by credentials has nothing to check.
        let Some(spec) = self.providers.credential_spec(&found) else { return Ok(()) };
        let spec = spec?;
        let sealed = current.tokens(&self.vault).await?.access_token;
        let credentials = crate::credentials::Credentials::unsealed(&sealed)
            .ok_or_else(|| EngineError::Invalid("the connection holds no credentials".into()))?;
        match self.providers.check_credentials(&found, &spec, &current.params, &credentials).await {
            Ok(()) => {
                let next = spec.first_recheck(self.now());
                self.store
                    .run(|tx| {
                        let current = current.clone();
                        async move {
                            // Reconnected meanwhile: that write scheduled its own check.
                            if let Some(mut stored) = Self::unchanged(&tx, &current).await? {
                                stored.recheck_at = next;
                                connection::put(&tx, &stored)?;
                            }
                            Ok::<_, RecordError>(())
                        }
                    })
                    .await?;
                Ok(())
            }
            Err(error @ EngineError::CredentialsRejected { .. }) => {
                self.mark_reauth_required(&current).await?;
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    /// The stored connection, if nobody wrote it since `read` was read.
    async fn unchanged(tx: &crate::store::Tx, read: &Connection) -> Result<Option<Connection>, RecordError> {
        let stored = connection::get(tx, &read.project_id, &read.entity_id, &read.id).await?;
        Ok(stored.filter(|stored| stored.refreshed_at == read.refreshed_at && stored.status == read.status))
    }

    /// The integration a connection belongs to.
    async fn integration_of(
        &self,
        connection: &Connection,
    ) -> EngineResult<crate::model::integration::Integration> {
        let tx = self.store.begin().await?;
        integration::get(&tx, &connection.project_id, &connection.integration)
            .await?
            .ok_or(EngineError::NotFound("integration"))
    }

    /// The connection, if it can still be used.
    async fn usable_connection(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<Connection> {
        let current = self.load_connection(project_id, entity_id, connection_id).await?;
        match current.status {
            ConnectionStatus::Active => Ok(current),
            ConnectionStatus::ReauthRequired => Err(EngineError::ReauthRequired),
            _ => Err(EngineError::NotFound("connection")),
        }
    }

    async fn load_connection(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<Connection> {
        let tx = self.store.begin().await?;
        connection::get(&tx, project_id, entity_id, connection_id)
            .await?
            .ok_or(EngineError::NotFound("connection"))
    }

    /// Takes the connection's cluster-wide refresh lock, in one transaction with a
    /// check that nobody refreshed the connection since `connection` was read.
    async fn claim_refresh(&self, connection: &Connection) -> EngineResult<Claim> {
        let (holder, now) = (self.instance_id.as_str(), self.now());
        let expires_at = now.plus_millis(REFRESH_LOCK.as_millis() as i64);
        let (project_id, entity_id, id) = (&connection.project_id, &connection.entity_id, &connection.id);
        Ok(self
            .store
            .run(|tx| async move {
                let stored = connection::get(&tx, project_id, entity_id, id).await?;
                if stored.map(|c| c.refreshed_at) != Some(connection.refreshed_at) {
                    return Ok(Claim::Stale);
                }
                let mine =
                    refresh_lock::claim(&tx, project_id, entity_id, id, holder, now, expires_at).await?;
                Ok::<_, RecordError>(if mine { Claim::Mine } else { Claim::Busy })
            })
            .await?)
    }

    /// Gives the lock back after a failed refresh (a successful one releases it
    /// with the new tokens). A failure here only delays others until it expires.
    async fn release_refresh(&self, connection: &Connection) {
        let released = self
            .store
            .run(|tx| async move {
                refresh_lock::release(&tx, &connection.project_id, &connection.entity_id, &connection.id)
            })
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "releasing a refresh lock failed; it expires on its own");
        }
    }

    async fn store_refreshed(
        &self,
        current: Connection,
        renewed: TokenSet,
        granted: Option<Vec<String>>,
    ) -> EngineResult<Connection> {
        let now = self.now();
        let vault = self.vault.clone();
        Ok(self
            .store
            .run(|tx| {
                let (vault, mut connection, renewed, granted) =
                    (vault.clone(), current.clone(), renewed.clone(), granted.clone());
                async move {
                    connection.set_tokens(&vault, &renewed, now)?;
                    refresh_lock::release(
                        &tx,
                        &connection.project_id,
                        &connection.entity_id,
                        &connection.id,
                    )?;
                    if let Some(scopes) = granted {
                        connection.scopes = scopes;
                    }
                    connection::put(&tx, &connection)?;
                    let draft = EventDraft {
                        entity_id: Some(connection.entity_id.clone()),
                        connection_id: Some(connection.id.clone()),
                        status: Some("active".into()),
                        ..EventDraft::default()
                    };
                    event::append(&tx, &connection.project_id, EventKind::ConnectionRefreshed, draft, now)
                        .await?;
                    Ok::<_, RecordError>(connection)
                }
            })
            .await?)
    }

    /// Marks the connection `reauth_required` with its event, unless it was written
    /// since it was read (renewed or reconnected meanwhile).
    async fn mark_reauth_required(&self, connection: &Connection) -> EngineResult<()> {
        let now = self.now();
        let current = connection.clone();
        self.store
            .run(|tx| {
                let current = current.clone();
                async move {
                    let Some(mut connection) = Self::unchanged(&tx, &current).await? else {
                        return Ok(());
                    };
                    connection.status = ConnectionStatus::ReauthRequired;
                    connection::put(&tx, &connection)?;
                    let draft = EventDraft {
                        entity_id: Some(connection.entity_id.clone()),
                        connection_id: Some(connection.id.clone()),
                        status: Some("reauth_required".into()),
                        ..EventDraft::default()
                    };
                    event::append(
                        &tx,
                        &connection.project_id,
                        EventKind::ConnectionReauthRequired,
                        draft,
                        now,
                    )
                    .await?;
                    Ok::<_, RecordError>(())
                }
            })
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl TokenRefresher for Tokens {
    /// Runs inside the entity actor: see the module documentation.
    async fn fresh_access_token(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<(Connection, SecretString)> {
        let mut attempt = 0;
        let mut waited = Duration::ZERO;
        loop {
            let current = self.usable_connection(project_id, entity_id, connection_id).await?;
            let tokens = current.tokens(&self.vault).await?;
            let now = self.now();
            if !needs_refresh(current.refreshed_at, tokens.expires_at, now) {
                return Ok((current, tokens.access_token));
            }
            // Read once a refresh is due, and then only once per attempt.
            let mut found = None;
            let refresh_token = match tokens.refresh_token.clone() {
                Some(token) => token,
                None => {
                    let integration = self.integration_of(&current).await?;
                    // Nothing to refresh with: let the provider judge the token. A
                    // client-credentials token is renewed with the client alone.
                    if !crate::catalog::serving::is_client_credentials(&integration.config) {
                        return Ok((current, tokens.access_token));
                    }
                    found = Some(integration);
                    SecretString::new(String::new())
                }
            };
            // One refresh per connection cluster-wide: the lock's holder refreshes;
            // everyone else waits, then reads its result from the store.
            match self.claim_refresh(&current).await? {
                Claim::Mine => {}
                Claim::Stale => continue,
                Claim::Busy if waited >= REFRESH_WAIT => {
                    return Err(EngineError::RefreshBusy);
                }
                Claim::Busy => {
                    tokio::time::sleep(REFRESH_POLL).await;
                    waited += REFRESH_POLL;
                    continue;
                }
            }
            let found = match found {
                Some(found) => found,
                None => self.integration_of(&current).await?,
            };
            if let Some(spec) = self.providers.credential_spec(&found) {
                return self.renew_with_key(current, &found, spec?, &refresh_token, now).await;
            }
            let plugin = self.providers.of_integration(&found)?;
            let target = self.providers.target(&found, &current.params).await?;
            match plugin.refresh(&target, &refresh_token, &current.scopes).await {
                Ok(issued) => {
                    let renewed = TokenSet {
                        access_token: issued.access_token,
                        // A provider that rotates sends a new one; one that does not keeps the old.
                        refresh_token: issued.refresh_token.or(tokens.refresh_token),
                        id_token: issued.id_token.or(tokens.id_token),
                        token_type: issued.token_type,
                        expires_at: issued
                            .expires_in
                            .map(|secs| now.plus_secs(secs.min(i64::MAX as u64 / 1000) as i64)),
                    };
                    let stored = self.store_refreshed(current, renewed.clone(), issued.scopes).await?;
                    return Ok((stored, renewed.access_token));
                }
                Err(error) if error.is_invalid_grant() => {
                    // Another worker may have rotated the refresh token under us.
                    let again = self.load_connection(project_id, entity_id, connection_id).await?;
                    let stored_refresh = again.tokens(&self.vault).await?.refresh_token;
                    if stored_refresh.as_ref().map(SecretString::expose) != Some(refresh_token.expose())
                        && attempt < REFRESH_ATTEMPTS
                    {
                        attempt += 1;
                        continue;
                    }
                    self.mark_reauth_required(&again).await?;
                    self.release_refresh(&again).await;
                    return Err(EngineError::ReauthRequired);
                }
                Err(error) if error.is_transient() && attempt + 1 < REFRESH_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                }
                Err(error) => {
                    self.release_refresh(&current).await;
                    return Err(error.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_margin_scales_with_the_lifetime() {
        let issued = Timestamp(0);
        // One hour: refreshed in its last 5 minutes (10 % capped at 5 min).
        assert!(!needs_refresh(issued, Some(Timestamp(3_600_000)), Timestamp(3_200_000)));
        assert!(needs_refresh(issued, Some(Timestamp(3_600_000)), Timestamp(3_300_001)));
        // One minute: refreshed in its last 6 s, not on every call.
        assert!(!needs_refresh(issued, Some(Timestamp(60_000)), Timestamp(50_000)));
        assert!(needs_refresh(issued, Some(Timestamp(60_000)), Timestamp(54_500)));
        // Expired is expired; no expiry means no refresh.
        assert!(needs_refresh(issued, Some(Timestamp(1_000)), Timestamp(2_000)));
        assert!(!needs_refresh(issued, None, Timestamp(i64::MAX / 2)));
    }
}
