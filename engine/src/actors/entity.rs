//! The entity actor: owns an entity's connections' tokens. Every request for a
//! fresh access token passes through it, so at most one refresh per connection
//! runs at a time on this node: 50 concurrent proxy calls on an expired token
//! cause one refresh, and the other 49 read the refreshed token.

use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{AskError, ask};
use crate::engine::WeakEngine;
use crate::error::{EngineResult, InternalError};
use crate::model::connection::Connection;
use crate::util::secret::SecretString;

const IDLE_CHECK: Duration = Duration::from_secs(30);

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
    pub engine: WeakEngine,
    pub project_id: String,
    pub entity_id: String,
}

pub struct EntityState {
    engine: WeakEngine,
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
            engine: args.engine,
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
                let answer = match state.engine.upgrade() {
                    Some(engine) => {
                        engine.fresh_access_token(&state.project_id, &state.entity_id, &connection_id).await
                    }
                    None => Err(InternalError::ShuttingDown.into()),
                };
                let _ = reply.send(answer);
            }
            EntityMsg::Ping(reply) => {
                let _ = reply.send(Ok(()));
            }
            EntityMsg::IdleCheck => {
                let idle =
                    state.engine.upgrade().map(|engine| engine.inner.settings.actor_idle).unwrap_or_default();
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
pub struct EntityHandle(pub(super) ActorRef<EntityMsg>);

impl EntityHandle {
    pub(crate) async fn access_token(
        &self,
        connection_id: &str,
    ) -> Result<(Connection, SecretString), AskError> {
        let connection_id = connection_id.to_owned();
        ask(&self.0, |reply| EntityMsg::AccessToken { connection_id, reply }).await
    }

    pub(crate) async fn ping(&self) -> Result<(), AskError> {
        ask(&self.0, EntityMsg::Ping).await
    }

    pub fn crash(&self) {
        let _ = self.0.cast(EntityMsg::Crash);
    }
}
