//! `Engine`: SecuriX as a library, and the composition root. `EngineBuilder::build`
//! makes the rooms (`auth`, `admin`, `flows`, `tokens`, `proxy`, `webhooks`), each
//! holding its own state and the handles of the rooms it calls, and starts the
//! background tasks; `Engine` is the facade the server (or any embedding program)
//! calls, each method handing over to its room. No module imports this one.
//!
//! ```no_run
//! # async fn example() -> Result<(), securix_engine::EngineError> {
//! use securix_engine::{Engine, store::Store, vault::MasterKey};
//! let engine = Engine::builder()
//!     .store(Store::memory())
//!     .master_key(MasterKey::generate())
//!     .public_url("https://auth.example.com")
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::admin::{Admin, IntegrationView};
use crate::auth::{Auth, Principal};
use crate::catalog::Catalog;
use crate::error::{EngineError, EngineResult, InternalError, UserAsked};
use crate::flows::consent::{CallbackOutcome, ConsentContext};
use crate::flows::sessions::CreateSession;
use crate::flows::views::{Confirmed, ConnectionView, SessionCreated, SessionView};
use crate::flows::{FlowSettings, Flows};
use crate::http_client::HttpClient;
use crate::model::agent::Agent;
use crate::model::integration::IntegrationDraft;
use crate::model::page::{Page, PageRequest};
use crate::model::{api_key, audit, project};
use crate::plugins::{FetchPolicy, PluginHost, PluginHostOptions};
use crate::policy::OutboundPolicy;
use crate::providers::Providers;
use crate::proxy::{Proxy, ProxyRequest, ProxyResponse};
use crate::sharding::placement::{Placement, SingleNode};
use crate::sharding::region::{Forwarder, Forwarding, RegionServer, RegionWork, RemoteError};
use crate::store::Store;
use crate::tokens::Tokens;
use crate::util::clock::{Clock, SystemClock, Timestamp};
use crate::util::epoch_cache::EngineCacheStats;
use crate::util::secret::SecretString;
use crate::vault::{MasterKey, Vault};
use crate::webhooks::endpoints::Endpoint;
use crate::webhooks::keyring::KeyView;
use crate::webhooks::{DeliverySettings, Webhooks};

/// Tunables, with production defaults.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The URL users and providers reach (builds `authUrl` and the redirect URI).
    pub public_url: String,
    /// Session lifetime when the app asks for none, and the most it may ask for.
    pub session_ttl: Duration,
    pub max_session_ttl: Duration,
    /// Device flow: the polling interval it tells clients.
    pub device_interval: Duration,
    /// Plain http to loopback for upstream APIs (tests, local development).
    pub allow_loopback_http: bool,
    /// When set, the only host names any outbound call may reach (lower case).
    pub allowed_hosts: Option<std::collections::HashSet<String>>,
    /// How long a proxied call may wait for the answer's head, then for each piece of its body.
    pub upstream_timeout: Duration,
    /// How long an idle entity or session actor stays in memory.
    pub actor_idle: Duration,
    /// How often the expiry sweeper looks for sessions past their time.
    pub sweep_every: Duration,
    /// Device codes: wrong guesses allowed per client address and globally, per minute.
    pub wrong_codes_per_client: u32,
    pub wrong_codes_global: u32,
    /// Webhooks: the wait after each failed attempt, and how often the outbox is polled.
    pub webhook_schedule: Vec<Duration>,
    pub webhook_poll: Duration,
    pub webhook_timeout: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            public_url: "http://127.0.0.1:8080".into(),
            session_ttl: Duration::from_secs(600),
            max_session_ttl: Duration::from_secs(3600),
            device_interval: Duration::from_secs(5),
            allow_loopback_http: false,
            allowed_hosts: None,
            upstream_timeout: Duration::from_secs(30),
            actor_idle: Duration::from_secs(300),
            sweep_every: Duration::from_secs(1),
            wrong_codes_per_client: 10,
            wrong_codes_global: 1000,
            webhook_schedule: crate::webhooks::delivery::default_schedule(),
            webhook_poll: Duration::from_millis(250),
            webhook_timeout: Duration::from_secs(15),
        }
    }
}

/// The rooms, and what the facade hands out as it is.
struct Inner {
    store: Store,
    vault: Vault,
    plugins: Arc<PluginHost>,
    settings: EngineSettings,
    providers: Providers,
    http: HttpClient,
    auth: Auth,
    admin: Admin,
    flows: Arc<Flows>,
    tokens: Arc<Tokens>,
    proxy: Arc<Proxy>,
    webhooks: Arc<Webhooks>,
    /// The background tasks (sweeper, delivery worker, audit writer), stopped at shutdown.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// See the module documentation. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("store", &self.inner.store).field("vault", &self.inner.vault).finish()
    }
}

#[derive(Default)]
pub struct EngineBuilder {
    store: Option<Store>,
    master_key: Option<MasterKey>,
    plugins: Option<Arc<PluginHost>>,
    catalog: Option<Catalog>,
    clock: Option<Arc<dyn Clock>>,
    settings: EngineSettings,
    placement: Option<Arc<dyn Placement>>,
    forwarder: Option<Arc<dyn Forwarder>>,
}

impl EngineBuilder {
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Without a master key the vault is sealed and token work is refused.
    pub fn master_key(mut self, key: MasterKey) -> Self {
        self.master_key = Some(key);
        self
    }

    pub fn plugins(mut self, plugins: Arc<PluginHost>) -> Self {
        self.plugins = Some(plugins);
        self
    }

    /// The provider catalog (default: the one built into this binary).
    pub fn catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn public_url(mut self, url: &str) -> Self {
        self.settings.public_url = url.trim_end_matches('/').to_owned();
        self
    }

    pub fn settings(mut self, settings: EngineSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn placement(mut self, placement: Arc<dyn Placement>) -> Self {
        self.placement = Some(placement);
        self
    }

    pub fn forwarder(mut self, forwarder: Arc<dyn Forwarder>) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    pub async fn build(self) -> EngineResult<Engine> {
        let store = self.store.ok_or(InternalError::NoStore)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let vault = match self.master_key {
            Some(key) => Vault::open_with_clock(store.clone(), key, clock.clone()).await?,
            None => Vault::sealed(),
        };
        let settings = self.settings;
        let plugins = match self.plugins {
            Some(plugins) => plugins,
            None => {
                let fetch = FetchPolicy {
                    allow_loopback_http: settings.allow_loopback_http,
                    operator_hosts: settings.allowed_hosts.clone(),
                    ..FetchPolicy::default()
                };
                Arc::new(PluginHost::new(PluginHostOptions { fetch, ..PluginHostOptions::default() })?)
            }
        };
        let outbound = OutboundPolicy {
            allow_loopback_http: settings.allow_loopback_http,
            operator_hosts: settings.allowed_hosts.clone(),
        };
        let http = HttpClient::new(outbound.clone())?;
        let placement = self.placement.unwrap_or_else(|| Arc::new(SingleNode));
        let forwarding = Forwarding::new(self.forwarder);
        let catalog = self.catalog.unwrap_or_else(Catalog::embedded);
        let providers = Providers::new(
            plugins.clone(),
            catalog,
            vault.clone(),
            &settings.public_url,
            http.clone(),
            settings.upstream_timeout.min(std::time::Duration::from_secs(10)),
        );

        let auth = Auth::new(store.clone(), clock.clone());
        let admin = Admin::new(store.clone(), vault.clone(), providers.clone(), clock.clone());
        let flow_settings = FlowSettings {
            public_url: settings.public_url.clone(),
            session_ttl: settings.session_ttl,
            max_session_ttl: settings.max_session_ttl,
            device_interval: settings.device_interval,
            actor_idle: settings.actor_idle,
            wrong_codes_per_client: settings.wrong_codes_per_client,
            wrong_codes_global: settings.wrong_codes_global,
        };
        let flows = Flows::new(
            store.clone(),
            vault.clone(),
            providers.clone(),
            clock.clone(),
            forwarding.clone(),
            flow_settings,
        );
        let tokens = Tokens::new(
            store.clone(),
            vault.clone(),
            providers.clone(),
            clock.clone(),
            forwarding,
            placement.clone(),
            settings.actor_idle,
        );
        let (proxy, audit_writer) = Proxy::start(
            store.clone(),
            clock.clone(),
            providers.clone(),
            tokens.clone(),
            http.clone(),
            outbound.clone(),
            settings.upstream_timeout,
        );
        let delivery = DeliverySettings {
            schedule: settings.webhook_schedule.clone(),
            poll: settings.webhook_poll,
            timeout: settings.webhook_timeout,
        };
        let webhooks =
            Webhooks::new(store.clone(), vault.clone(), clock, placement, http.clone(), outbound, delivery);
        webhooks.mark_keys_per_project().await?;
        let delivery_worker = webhooks.start_worker();

        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                vault,
                plugins,
                settings,
                providers,
                http,
                auth,
                admin,
                flows,
                tokens,
                proxy,
                webhooks,
                tasks: Mutex::new(vec![audit_writer, delivery_worker]),
            }),
        };
        engine.start_sweeper();
        Ok(engine)
    }
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// Every provider SecuriX knows as data.
    pub fn catalog(&self) -> &Catalog {
        self.inner.providers.catalog()
    }

    pub fn plugins(&self) -> &PluginHost {
        &self.inner.plugins
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// The redirect URI to register at providers.
    pub fn redirect_uri(&self) -> String {
        self.inner.providers.redirect_uri().to_owned()
    }

    /// How often the proxy's remembered plans and API keys answered.
    pub fn cache_stats(&self) -> EngineCacheStats {
        EngineCacheStats {
            proxy_plans: self.inner.proxy.cache_stats(),
            api_keys: self.inner.auth.cache_stats(),
        }
    }

    /// Active (session, entity) actors on this node.
    pub async fn active_actors(&self) -> (usize, usize) {
        (self.inner.flows.active_actors(), self.inner.tokens.active_actors())
    }

    /// A round trip to an entity's actor, activating it if it sleeps (warm-up,
    /// health checks, benchmarks).
    pub async fn ping_entity(&self, project_id: &str, entity_id: &str) -> EngineResult<()> {
        self.inner.tokens.ping_entity(project_id, entity_id).await
    }

    /// Tests only: makes a session's actor panic, as a bug would.
    #[doc(hidden)]
    pub async fn danger_test_crash_session_actor(&self, session_id: &str) -> EngineResult<()> {
        self.inner.flows.crash_session_actor(session_id).await
    }

    /// Tests only: makes an entity's actor panic, as a bug would.
    #[doc(hidden)]
    pub async fn danger_test_crash_entity_actor(
        &self,
        project_id: &str,
        entity_id: &str,
    ) -> EngineResult<()> {
        self.inner.tokens.crash_entity_actor(project_id, entity_id).await
    }

    /// Stops every actor and the background tasks; the store can then be closed.
    pub async fn shutdown(&self) {
        self.flush_audit_log().await;
        self.inner.flows.stop_actors();
        self.inner.tokens.stop_actors();
        self.inner.webhooks.stop_actors();
        let tasks: Vec<_> =
            self.inner.tasks.lock().map(|mut tasks| tasks.drain(..).collect()).unwrap_or_default();
        for task in &tasks {
            task.abort();
        }
        // Until they are gone they may hold the store (a redb file another process
        // opens next).
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Runs the expiry sweeper: the safety net behind each session actor's timer,
    /// what expires sessions after a restart, and what closes provider connections
    /// left idle too long. It holds the engine weakly, so dropping the last
    /// `Engine` ends it.
    fn start_sweeper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let every = self.inner.settings.sweep_every;
        let handle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                inner.http.sweep_idle();
                if let Err(error) = inner.flows.expire_due_sessions().await {
                    tracing::warn!(%error, "session expiry sweep failed");
                }
            }
        });
        // The background refresher: its own loop, as a round may wait on providers.
        let weak = Arc::downgrade(&self.inner);
        let refresher = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                if let Err(error) = inner.tokens.renew_due().await {
                    tracing::warn!(%error, "renewing due tokens failed");
                }
            }
        });
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.push(handle);
            tasks.push(refresher);
        }
    }
}

/// Who calls (`auth`).
impl Engine {
    pub async fn authenticate(&self, presented: &str) -> EngineResult<Principal> {
        self.inner.auth.authenticate(presented).await
    }
}

/// The operator's writes and reads (`admin`).
impl Engine {
    pub async fn create_project(&self, name: &str) -> EngineResult<project::Project> {
        self.inner.admin.create_project(name).await
    }

    /// Issues an API key; the returned secret is the only copy.
    pub async fn issue_api_key(
        &self,
        project_id: &str,
        name: &str,
    ) -> EngineResult<(api_key::ApiKey, SecretString)> {
        self.inner.admin.issue_api_key(project_id, name).await
    }

    pub async fn revoke_api_key(&self, project_id: &str, key_id: &str) -> EngineResult<()> {
        self.inner.admin.revoke_api_key(project_id, key_id).await
    }

    pub async fn put_agent(
        &self,
        project_id: &str,
        agent_id: &str,
        access: crate::model::agent::Access,
    ) -> EngineResult<Agent> {
        self.inner.admin.put_agent(project_id, agent_id, access).await
    }

    /// Enables a provider in a project; the plugin checks the configuration first.
    pub async fn put_integration(
        &self,
        project_id: &str,
        draft: IntegrationDraft,
    ) -> EngineResult<IntegrationView> {
        self.inner.admin.put_integration(project_id, draft).await
    }

    pub async fn list_integrations(&self, project_id: &str) -> EngineResult<Vec<IntegrationView>> {
        self.inner.admin.list_integrations(project_id).await
    }

    pub async fn set_origins(&self, project_id: &str, origins: Vec<String>) -> EngineResult<Vec<String>> {
        self.inner.admin.set_origins(project_id, origins).await
    }
}

/// The operator's listings, reads and deletes (`admin::reads`).
impl Engine {
    pub async fn list_projects(&self, request: &PageRequest) -> EngineResult<Page<project::Project>> {
        self.inner.admin.list_projects(request).await
    }

    pub async fn project(&self, project_id: &str) -> EngineResult<project::Project> {
        self.inner.admin.project(project_id).await
    }

    pub async fn rename_project(&self, project_id: &str, name: &str) -> EngineResult<project::Project> {
        self.inner.admin.rename_project(project_id, name).await
    }

    /// Revokes one of a project's connections for the operator, as the app's
    /// `DELETE /v1/entities/{e}/connections/{c}` does.
    pub async fn revoke_project_connection(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<()> {
        self.inner.admin.project(project_id).await?;
        self.inner.tokens.delete_connection(&Principal::operator(project_id), entity_id, connection_id).await
    }

    /// A device session the operator begins to try an integration: whoever opens its
    /// link connects the entity `console-try`.
    pub async fn operator_try(&self, project_id: &str, integration: &str) -> EngineResult<SessionCreated> {
        self.inner.admin.project(project_id).await?;
        let request = CreateSession {
            entity_id: crate::admin::TRY_ENTITY.to_owned(),
            flow: Some(crate::model::session::Flow::Device),
            providers: [(integration.to_owned(), Vec::new())].into_iter().collect(),
            ..CreateSession::default()
        };
        self.inner.flows.create_session(&Principal::operator(project_id), request).await
    }

    /// A device session that re-authorizes one of a project's connections (keeping
    /// its id), begun by the operator: its link and code go to the user.
    pub async fn operator_reconnect(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<SessionCreated> {
        self.inner.admin.project(project_id).await?;
        let request = CreateSession {
            entity_id: entity_id.to_owned(),
            flow: Some(crate::model::session::Flow::Device),
            reconnect: Some(connection_id.to_owned()),
            ..CreateSession::default()
        };
        self.inner.flows.create_session(&Principal::operator(project_id), request).await
    }

    /// Deletes a project and everything of it: its keys stop working in the first
    /// commit, its grants are revoked at their providers, its records erased.
    pub async fn delete_project(&self, project_id: &str) -> EngineResult<()> {
        self.inner.admin.delete_project(project_id).await
    }

    pub async fn list_api_keys(
        &self,
        project_id: &str,
        request: &PageRequest,
    ) -> EngineResult<Page<crate::admin::KeyInUse>> {
        self.inner.admin.list_api_keys(project_id, request).await
    }

    pub async fn api_key(&self, project_id: &str, key_id: &str) -> EngineResult<crate::admin::KeyInUse> {
        self.inner.admin.api_key(project_id, key_id).await
    }

    pub async fn list_agents(&self, project_id: &str, request: &PageRequest) -> EngineResult<Page<Agent>> {
        self.inner.admin.list_agents(project_id, request).await
    }

    pub async fn agent(&self, project_id: &str, agent_id: &str) -> EngineResult<Agent> {
        self.inner.admin.agent(project_id, agent_id).await
    }

    pub async fn delete_agent(&self, project_id: &str, agent_id: &str) -> EngineResult<()> {
        self.inner.admin.delete_agent(project_id, agent_id).await
    }

    pub async fn list_integration_page(
        &self,
        project_id: &str,
        request: &PageRequest,
    ) -> EngineResult<Page<IntegrationView>> {
        self.inner.admin.list_integration_page(project_id, request).await
    }

    pub async fn integration(&self, project_id: &str, key: &str) -> EngineResult<IntegrationView> {
        self.inner.admin.integration(project_id, key).await
    }

    pub async fn delete_integration(&self, project_id: &str, key: &str) -> EngineResult<()> {
        self.inner.admin.delete_integration(project_id, key).await
    }

    pub async fn list_webhook_endpoints(
        &self,
        project_id: &str,
        request: &PageRequest,
    ) -> EngineResult<Page<Endpoint>> {
        self.inner.webhooks.list_webhook_endpoints(project_id, request).await
    }

    pub async fn webhook_endpoint(&self, project_id: &str, endpoint_id: &str) -> EngineResult<Endpoint> {
        self.inner.webhooks.webhook_endpoint(project_id, endpoint_id).await
    }

    pub async fn delete_webhook_endpoint(&self, project_id: &str, endpoint_id: &str) -> EngineResult<()> {
        self.inner.webhooks.delete_webhook_endpoint(project_id, endpoint_id).await
    }

    /// The project's newest `limit` events (what webhooks carry), newest first.
    pub async fn recent_events(
        &self,
        project_id: &str,
        limit: usize,
    ) -> EngineResult<Vec<crate::model::event::Event>> {
        self.inner.admin.recent_events(project_id, limit).await
    }

    /// The project's last 24 hours, hour by hour (the console's charts).
    pub async fn activity(&self, project_id: &str) -> EngineResult<crate::admin::Activity> {
        self.inner.admin.activity(project_id).await
    }

    /// The project's token uses, newest first.
    pub async fn list_audit(
        &self,
        project_id: &str,
        filter: &crate::admin::AuditFilter,
        request: &PageRequest,
    ) -> EngineResult<Page<crate::admin::AuditView>> {
        self.inner.admin.list_audit(project_id, filter, request).await
    }

    /// The project's webhook delivery log, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        project_id: &str,
        filter: &crate::webhooks::deliveries::DeliveryFilter,
        request: &PageRequest,
    ) -> EngineResult<Page<crate::webhooks::deliveries::DeliveryView>> {
        self.inner.webhooks.list_deliveries(project_id, filter, request).await
    }

    /// Owes a logged delivery's event to its endpoint again, due now.
    pub async fn retry_webhook_delivery(&self, project_id: &str, delivery_id: &str) -> EngineResult<()> {
        self.inner.webhooks.retry_delivery(project_id, delivery_id).await
    }

    /// The project's entities in id order; `prefix` keeps those whose id starts so.
    pub async fn list_entities(
        &self,
        project_id: &str,
        prefix: Option<&str>,
        request: &PageRequest,
    ) -> EngineResult<Page<crate::admin::EntityView>> {
        self.inner.admin.list_entities(project_id, prefix, request).await
    }

    pub async fn list_project_connections(
        &self,
        project_id: &str,
        filter: &crate::admin::ConnectionFilter,
        request: &PageRequest,
    ) -> EngineResult<Page<crate::admin::ProjectConnectionView>> {
        self.inner.admin.list_project_connections(project_id, filter, request).await
    }

    pub async fn list_sessions(
        &self,
        project_id: &str,
        filter: &crate::admin::SessionFilter,
        request: &PageRequest,
    ) -> EngineResult<Page<crate::admin::AdminSessionView>> {
        self.inner.admin.list_sessions(project_id, filter, request).await
    }
}

/// Sessions and the steps of the flows (`flows`).
impl Engine {
    pub async fn create_session(
        &self,
        principal: &Principal,
        request: CreateSession,
    ) -> EngineResult<SessionCreated> {
        self.inner.flows.create_session(principal, request).await
    }

    /// The session's status; with `wait`, a long poll (see `Flows::session_status`).
    pub async fn session_status(
        &self,
        principal: &Principal,
        session_id: &str,
        wait: Option<Duration>,
    ) -> EngineResult<SessionView> {
        self.inner.flows.session_status(principal, session_id, wait).await
    }

    /// A session's status as an agent token sees it: only its entity's sessions.
    pub async fn session_status_as_agent(
        &self,
        caller: &crate::auth::AgentCaller,
        session_id: &str,
        wait: Option<Duration>,
    ) -> EngineResult<SessionView> {
        let entity = Some(&*caller.entity_id);
        self.inner.flows.session_status_for(&caller.principal, entity, session_id, wait).await
    }

    /// Expires every session past its time now (the sweeper does this every second).
    pub async fn sweep_expired(&self) -> EngineResult<usize> {
        self.inner.flows.expire_due_sessions().await
    }

    pub async fn confirm_session(
        &self,
        principal: &Principal,
        session_id: &str,
        sxc: &str,
    ) -> EngineResult<Confirmed> {
        self.inner.flows.confirm_session(principal, session_id, sxc).await
    }

    pub async fn consent_context(&self, session_id: &str, browser_id: &str) -> EngineResult<ConsentContext> {
        self.inner.flows.consent_context(session_id, browser_id).await
    }

    pub async fn enter_device_code(
        &self,
        typed: &str,
        client: &str,
        browser_id: &str,
    ) -> EngineResult<String> {
        self.inner.flows.enter_device_code(typed, client, browser_id).await
    }

    /// Continues a session to one provider, with what the user typed: connection
    /// params the app left out, a credential provider's credentials.
    pub async fn begin_authorization(
        &self,
        session_id: &str,
        integration_key: &str,
        browser_id: &str,
        typed: &crate::flows::consent::Typed,
    ) -> EngineResult<crate::flows::consent::Authorization> {
        self.inner.flows.begin_authorization(session_id, integration_key, browser_id, typed).await
    }

    pub async fn oauth_callback(
        &self,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
        iss: Option<&str>,
        browser_id: &str,
    ) -> EngineResult<CallbackOutcome> {
        self.inner.flows.oauth_callback(state, code, error, iss, browser_id).await
    }

    pub async fn deny_session(&self, session_id: &str, browser_id: &str) -> EngineResult<CallbackOutcome> {
        self.inner.flows.deny_session(session_id, browser_id).await
    }
}

/// Connections (`tokens`).
impl Engine {
    pub async fn list_connections(
        &self,
        principal: &Principal,
        entity_id: &str,
    ) -> EngineResult<Vec<ConnectionView>> {
        self.inner.tokens.list_connections(principal, entity_id).await
    }

    /// Makes a connection its integration's default for the entity.
    pub async fn make_default_connection(
        &self,
        principal: &Principal,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<ConnectionView> {
        self.inner.tokens.make_default(principal, entity_id, connection_id).await
    }

    /// One round of the background refresher, now: renews what is due in the shards
    /// this node owns and returns how many came out renewed (tests and benches; the
    /// server runs it every sweep).
    pub async fn renew_due_connections(&self) -> EngineResult<usize> {
        self.inner.tokens.renew_due().await
    }

    /// Imports credentials an app already holds, verified at the provider first.
    pub async fn import_connection(
        &self,
        principal: &Principal,
        entity_id: &str,
        import: crate::flows::import::Import,
    ) -> EngineResult<ConnectionView> {
        self.inner.flows.import_connection(principal, entity_id, import).await
    }

    /// Revokes at the provider when it can, then deletes the vaulted tokens.
    pub async fn delete_connection(
        &self,
        principal: &Principal,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<()> {
        self.inner.tokens.delete_connection(principal, entity_id, connection_id).await
    }
}

/// An app's calls to providers, and their audit trail (`proxy`).
impl Engine {
    pub async fn proxy(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        integration_key: &str,
        request: ProxyRequest,
    ) -> EngineResult<ProxyResponse> {
        let named = request.connection_id.is_some();
        let proxied = self.inner.proxy.proxy(principal, agent_id, entity_id, integration_key, request).await;
        match proxied {
            // No usable connection: an agent that connects on demand asks the user.
            Err(error @ (EngineError::NotFound("connection") | EngineError::ReauthRequired)) if !named => {
                let flows = &self.inner.flows;
                match flows.on_demand(principal, agent_id, entity_id, integration_key).await? {
                    Some(session) => Err(EngineError::AuthorizationRequired(Box::new(UserAsked {
                        session_id: session.session_id,
                        auth_url: session.auth_url,
                        device_auth_code: session.device_auth_code.unwrap_or_default(),
                        expires_at: session.expires_at.0,
                    }))),
                    None => Err(error),
                }
            }
            answered => answered,
        }
    }

    /// The device session in which the entity's user connects `integration` for
    /// the agent, within its grant (the pending one, if any).
    pub async fn ask_user(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        integration: &str,
    ) -> EngineResult<SessionCreated> {
        self.inner.flows.ask_user(principal, agent_id, entity_id, integration).await
    }

    /// Who a presented agent token (`sxa_…`) speaks for.
    pub async fn authenticate_agent(&self, presented: &str) -> EngineResult<crate::auth::AgentCaller> {
        self.inner.auth.authenticate_agent(presented).await
    }

    /// Mints a token for one agent acting for one entity; the secret is the only copy.
    pub async fn mint_agent_token(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        expires_in: Option<Duration>,
    ) -> EngineResult<(crate::model::agent_token::AgentToken, SecretString)> {
        self.inner.auth.mint_agent_token(principal, agent_id, entity_id, expires_in).await
    }

    /// One page of an agent's live tokens.
    pub async fn list_agent_tokens(
        &self,
        principal: &Principal,
        agent_id: &str,
        request: &PageRequest,
    ) -> EngineResult<Page<crate::model::agent_token::AgentToken>> {
        self.inner.auth.list_agent_tokens(principal, agent_id, request).await
    }

    /// Revokes an agent token at once.
    pub async fn revoke_agent_token(
        &self,
        principal: &Principal,
        agent_id: &str,
        token_id: &str,
    ) -> EngineResult<()> {
        self.inner.auth.revoke_agent_token(principal, agent_id, token_id).await
    }

    /// The entity's connections the agent's grant lets it call through.
    pub async fn usable_connections(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
    ) -> EngineResult<Vec<ConnectionView>> {
        self.inner.proxy.usable_connections(principal, agent_id, entity_id).await
    }

    /// Waits until every token use recorded so far is committed to the audit trail.
    pub async fn flush_audit_log(&self) {
        self.inner.proxy.flush_audit_log().await
    }

    /// An entity's audit trail, newest first.
    pub async fn audit_trail(
        &self,
        principal: &Principal,
        entity_id: &str,
        limit: usize,
    ) -> EngineResult<Vec<audit::AuditRecord>> {
        self.inner.proxy.audit_trail(principal, entity_id, limit).await
    }
}

/// Webhook endpoints, signing keys and deliveries (`webhooks`).
impl Engine {
    /// Delivers every due outbox entry of the shards this node owns, and waits for
    /// those deliveries (tests and tools; the worker does not wait).
    pub async fn deliver_due_webhooks(&self) -> EngineResult<usize> {
        self.inner.webhooks.deliver_due_webhooks().await
    }

    /// Delivers an event again, or every event created in `[from, to]`.
    pub async fn redeliver(
        &self,
        project_id: &str,
        event_id: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> EngineResult<usize> {
        self.inner.webhooks.redeliver(project_id, event_id, from, to).await
    }

    pub async fn add_webhook_endpoint(
        &self,
        project_id: &str,
        url: &str,
        events: Option<Vec<String>>,
    ) -> EngineResult<Endpoint> {
        self.inner.webhooks.add_webhook_endpoint(project_id, url, events).await
    }

    /// A project's public signing keys (`whpk_…`), creating the first on first use.
    pub async fn webhook_keys(&self, project_id: &str) -> EngineResult<Vec<KeyView>> {
        self.inner.webhooks.webhook_keys(project_id).await
    }

    pub async fn rotate_webhook_key(&self, project_id: &str) -> EngineResult<KeyView> {
        self.inner.webhooks.rotate_webhook_key(project_id).await
    }

    pub async fn retire_webhook_key(&self, project_id: &str, key_id: &str) -> EngineResult<()> {
        self.inner.webhooks.retire_webhook_key(project_id, key_id).await
    }
}

/// Shard work a peer hands over (`sharding::region`).
impl Engine {
    /// The owner's side: what a region runs for a peer, on this node's actors.
    pub async fn serve_region(&self, work: RegionWork) -> Result<(), RemoteError> {
        RegionServer::serve(self, work).await
    }
}

/// Each kind of work goes to the room whose actors serialize it.
#[async_trait]
impl RegionServer for Engine {
    async fn serve(&self, work: RegionWork) -> Result<(), RemoteError> {
        let answer = match work {
            RegionWork::FreshToken { project_id, entity_id, connection_id } => {
                self.inner.tokens.refresh_for_peer(&project_id, &entity_id, &connection_id).await
            }
            RegionWork::PollSession { session_id, .. } => self.inner.flows.poll_for_peer(&session_id).await,
        };
        answer.map_err(RemoteError::from)
    }
}
