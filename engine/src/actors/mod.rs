//! Virtual actors: one per auth session, one per entity, one per owned shard's
//! outbox, activated on first use, passivated when idle. An actor that panics
//! stops; its caller gets an error (the reply port is dropped, never a hang), and
//! the next message activates a fresh actor whose state is reloaded from the store
//! — the store is the truth, actors only serialize work and hold timers.
//!
//! Each kind of actor works for one room through a small trait that room
//! implements (`TokenRefresher`, `SessionExpirer`, `ShardDispatcher`), held as a
//! `Weak`: the room owns its actors' registry, so a strong handle back would keep
//! the room alive forever, and dropping the last `Engine` stops the actors.

pub mod entity;
pub mod outbox;
pub mod session;

use std::collections::HashMap;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, ActorStatus, Message};
use tokio::sync::Mutex;

use crate::error::{EngineError, EngineResult, InternalError};

pub(crate) use entity::{Entities, TokenRefresher};
pub(crate) use outbox::{Outboxes, ShardDispatcher};
pub(crate) use session::{SessionExpirer, SessionTiming, Sessions};

/// How long a caller waits for an actor before giving up.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

fn alive<M: Message>(actor: &ActorRef<M>) -> bool {
    matches!(actor.get_status(), ActorStatus::Starting | ActorStatus::Running | ActorStatus::Upgrading)
}

/// Why an actor did not answer.
pub(crate) enum AskError {
    /// The actor was gone, or died before answering. Requests to actors are
    /// idempotent (state lives in the store), so one retry on a fresh actor is safe;
    /// a request that kills every actor it meets still ends in an error, never a hang.
    Lost,
    Failed(EngineError),
}

/// Sends a request and waits for the answer; a dead or stuck actor is an error.
pub(crate) async fn ask<M: Message, T: Send + 'static>(
    actor: &ActorRef<M>,
    build: impl FnOnce(ractor::RpcReplyPort<EngineResult<T>>) -> M,
) -> Result<T, AskError> {
    match actor.call(build, Some(CALL_TIMEOUT)).await {
        Ok(CallResult::Success(answer)) => answer.map_err(AskError::Failed),
        Ok(CallResult::Timeout) => Err(AskError::Failed(InternalError::ActorTimeout.into())),
        Ok(CallResult::SenderError) | Err(_) => Err(AskError::Lost),
    }
}

/// Runs `request` against the actor from `activate`, once more on a fresh actor
/// (its state reloaded from the store) if the first one was lost.
async fn with_retry<H, T, F, Fut>(activate: impl Fn(bool) -> F, request: impl Fn(H) -> Fut) -> EngineResult<T>
where
    F: std::future::Future<Output = EngineResult<H>>,
    Fut: std::future::Future<Output = Result<T, AskError>>,
{
    match request(activate(false).await?).await {
        Ok(answer) => Ok(answer),
        Err(AskError::Failed(error)) => Err(error),
        Err(AskError::Lost) => match request(activate(true).await?).await {
            Ok(answer) => Ok(answer),
            Err(AskError::Failed(error)) => Err(error),
            Err(AskError::Lost) => Err(InternalError::ActorFailed.into()),
        },
    }
}

/// Actors by key: lookups take a read lock; activations are serialized so one
/// key never gets two actors.
struct Registry<M: Message> {
    actors: std::sync::RwLock<HashMap<String, ActorRef<M>>>,
    spawning: Mutex<()>,
}

impl<M: Message> Default for Registry<M> {
    fn default() -> Self {
        Registry { actors: std::sync::RwLock::new(HashMap::new()), spawning: Mutex::new(()) }
    }
}

impl<M: Message> Registry<M> {
    fn live(&self, key: &str) -> Option<ActorRef<M>> {
        let actors = self.actors.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        actors.get(key).filter(|a| alive(a)).cloned()
    }

    /// Finds the live actor for `key`, or starts one (always a new one if `fresh`).
    async fn activate<A: Actor<Msg = M>>(
        &self,
        key: &str,
        fresh: bool,
        make: impl FnOnce() -> (A, A::Arguments),
    ) -> EngineResult<ActorRef<M>> {
        if let Some(actor) = self.live(key).filter(|_| !fresh) {
            return Ok(actor);
        }
        let _one_at_a_time = self.spawning.lock().await;
        if let Some(actor) = self.live(key).filter(|_| !fresh) {
            return Ok(actor);
        }
        let (handler, arguments) = make();
        let (actor, _) = Actor::spawn(None, handler, arguments).await.map_err(InternalError::ActorStart)?;
        let mut actors = self.actors.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if actors.len() % 4096 == 4095 {
            actors.retain(|_, actor| alive(actor));
        }
        actors.insert(key.to_owned(), actor.clone());
        Ok(actor)
    }

    fn count_alive(&self) -> usize {
        self.actors.read().map(|actors| actors.values().filter(|a| alive(a)).count()).unwrap_or(0)
    }

    fn stop_all(&self) {
        let mut actors = self.actors.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (_, actor) in actors.drain() {
            actor.stop(None);
        }
    }
}
