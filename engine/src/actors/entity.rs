//! The entity actor: owns an entity's connections' tokens. Every request for a
//! fresh access token passes through it, so at most one refresh per connection
//! runs at a time on this node: 50 concurrent proxy calls on an expired token
//! cause one refresh, and the other 49 read the refreshed token.

use std::sync::Weak;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{AskError, Registry, ask, with_retry};
use crate::error::{EngineResult, InternalError};
use crate::model::connection::Connection;
use crate::util::secret::SecretString;

const IDLE_CHECK: Duration = Duration::from_secs(30);

/// What an entity actor runs its requests on: the room that keeps tokens fresh.
#[async_trait::async_trait]
pub(crate) trait TokenRefresher: Send + Sync + 'static {
    /// A usable access token, refreshed first if it is due. Runs inside the actor.
    async fn fresh_access_token(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<(Connection, SecretString)>;
}

pub enum EntityMsg {
    /// A usable access token for one of the entity's connections.
    AccessToken {
        connection_id: String,
        reply: RpcReplyPort<EngineResult<(Connection, SecretString)>>,
    },
    /// A round trip that does no work (health checks, benchmarks).
    Ping(RpcReplyPort<EngineResult<()>>),
    IdleCheck,
    /// Tests only: panic inside the actor.
    Crash,
}

// Local only: ractor's `cluster` feature asks every message type to say so.
impl ractor::Message for EntityMsg {}

pub struct EntityArgs {
    refresher: Weak<dyn TokenRefresher>,
    idle: Duration,
    project_id: String,
    entity_id: String,
}

pub struct EntityState {
    refresher: Weak<dyn TokenRefresher>,
    idle: Duration,
    project_id: String,
    entity_id: String,
    last_active: Instant,
}

pub struct EntityActor;

impl Actor for EntityActor {
    type Msg = EntityMsg;
    type State = EntityState;
    type Arguments = EntityArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<EntityMsg>,
        args: EntityArgs,
    ) -> Result<EntityState, ActorProcessingErr> {
        myself.send_after(IDLE_CHECK, || EntityMsg::IdleCheck);
        Ok(EntityState {
            refresher: args.refresher,
            idle: args.idle,
            project_id: args.project_id,
            entity_id: args.entity_id,
            last_active: Instant::now(),
        })
    }

    #[tracing::instrument(name = "actor.entity", skip_all, fields(entity = %state.entity_id))]
    async fn handle(
        &self,
        myself: ActorRef<EntityMsg>,
        message: EntityMsg,
        state: &mut EntityState,
    ) -> Result<(), ActorProcessingErr> {
        state.last_active = Instant::now();
        match message {
            EntityMsg::AccessToken { connection_id, reply } => {
                let answer = match state.refresher.upgrade() {
                    Some(refresher) => {
                        refresher
                            .fresh_access_token(&state.project_id, &state.entity_id, &connection_id)
                            .await
                    }
                    None => Err(InternalError::ShuttingDown.into()),
                };
                let _ = reply.send(answer);
            }
            EntityMsg::Ping(reply) => {
                let _ = reply.send(Ok(()));
            }
            EntityMsg::IdleCheck => {
                // Its room gone (the engine dropped), an actor has nothing left to do.
                let idle = if state.refresher.strong_count() > 0 { state.idle } else { Duration::ZERO };
                if state.last_active.elapsed() >= idle {
                    myself.stop(Some("idle".into()));
                } else {
                    myself.send_after(IDLE_CHECK, || EntityMsg::IdleCheck);
                }
            }
            EntityMsg::Crash => crash(),
        }
        Ok(())
    }
}

#[allow(clippy::panic)]
fn crash() {
    panic!("entity actor crash requested by a test");
}

/// A handle on an entity's actor.
struct EntityHandle(ActorRef<EntityMsg>);

impl EntityHandle {
    async fn access_token(&self, connection_id: &str) -> Result<(Connection, SecretString), AskError> {
        let connection_id = connection_id.to_owned();
        ask(&self.0, |reply| EntityMsg::AccessToken { connection_id, reply }).await
    }

    async fn ping(&self) -> Result<(), AskError> {
        ask(&self.0, EntityMsg::Ping).await
    }
}

/// The entity actors of this node, working for one `TokenRefresher`.
pub(crate) struct Entities {
    registry: Registry<EntityMsg>,
    refresher: Weak<dyn TokenRefresher>,
    /// How long an idle actor stays in memory.
    idle: Duration,
}

impl Entities {
    pub fn new(refresher: Weak<dyn TokenRefresher>, idle: Duration) -> Self {
        Entities { registry: Registry::default(), refresher, idle }
    }

    async fn activate(&self, project_id: &str, entity_id: &str, fresh: bool) -> EngineResult<EntityHandle> {
        // Entity ids never contain '/' (see `ids::check_app_id`), so the key is unambiguous.
        let key = format!("{project_id}/{entity_id}");
        let actor = self
            .registry
            .activate(&key, fresh, || {
                let args = EntityArgs {
                    refresher: self.refresher.clone(),
                    idle: self.idle,
                    project_id: project_id.to_owned(),
                    entity_id: entity_id.to_owned(),
                };
                (EntityActor, args)
            })
            .await?;
        Ok(EntityHandle(actor))
    }

    /// A fresh access token through the entity's actor (which serializes refreshes).
    pub async fn access_token(
        &self,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<(Connection, SecretString)> {
        with_retry(
            |fresh| self.activate(project_id, entity_id, fresh),
            |handle| async move { handle.access_token(connection_id).await },
        )
        .await
    }

    /// A round trip to the entity's actor, activating it if needed.
    pub async fn ping(&self, project_id: &str, entity_id: &str) -> EngineResult<()> {
        with_retry(
            |fresh| self.activate(project_id, entity_id, fresh),
            |handle| async move { handle.ping().await },
        )
        .await
    }

    /// Tests only: makes the entity's actor panic.
    pub async fn crash(&self, project_id: &str, entity_id: &str) -> EngineResult<()> {
        let _ = self.activate(project_id, entity_id, false).await?.0.cast(EntityMsg::Crash);
        Ok(())
    }

    /// How many entity actors are active now.
    pub fn active(&self) -> usize {
        self.registry.count_alive()
    }

    pub fn stop_all(&self) {
        self.registry.stop_all();
    }
}
