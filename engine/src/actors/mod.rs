//! Virtual actors: one per auth session, one per entity, activated on first use,
//! passivated when idle. An actor that panics stops; its caller gets an error (the
//! reply port is dropped, never a hang), and the next message activates a fresh
//! actor whose state is reloaded from the store — the store is the truth, actors
//! only serialize work and hold timers.

pub mod entity;
pub mod session;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, ActorStatus, Message};
use tokio::sync::Mutex;

use crate::engine::{Engine, Inner};
use crate::error::{EngineError, EngineResult};
use crate::model::connection::Connection;
use crate::secret::SecretString;

pub use entity::EntityHandle;
pub use session::SessionHandle;

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
        Ok(CallResult::Timeout) => {
            Err(AskError::Failed(EngineError::Internal("the actor did not answer in time".into())))
        }
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
            Err(AskError::Lost) => {
                Err(EngineError::Internal("the actor failed twice on this request".into()))
            }
        },
    }
}

/// The live actors of this node.
#[derive(Default)]
pub struct ActorSystem {
    sessions: Mutex<HashMap<String, ActorRef<session::SessionMsg>>>,
    entities: Mutex<HashMap<(String, String), ActorRef<entity::EntityMsg>>>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Activates (or finds) the actor for `key` in `map`.
async fn activate<K, A>(
    map: &Mutex<HashMap<K, ActorRef<A::Msg>>>,
    key: K,
    fresh: bool,
    make: impl FnOnce() -> (A, A::Arguments),
) -> EngineResult<ActorRef<A::Msg>>
where
    K: std::hash::Hash + Eq + Clone,
    A: Actor,
{
    let mut actors = map.lock().await;
    if let Some(actor) = actors.get(&key).filter(|a| !fresh && alive(a)) {
        return Ok(actor.clone());
    }
    if actors.len() % 1024 == 1023 {
        actors.retain(|_, actor| alive(actor));
    }
    let (handler, arguments) = make();
    let (actor, _) = Actor::spawn(None, handler, arguments)
        .await
        .map_err(|e| EngineError::Internal(format!("cannot start an actor: {e}")))?;
    actors.insert(key, actor.clone());
    Ok(actor)
}

impl ActorSystem {
    pub(crate) async fn session(
        &self,
        engine: &Engine,
        session_id: &str,
        fresh: bool,
    ) -> EngineResult<SessionHandle> {
        let weak: Weak<Inner> = Arc::downgrade(&engine.inner);
        let id = session_id.to_owned();
        let actor = activate(&self.sessions, id.clone(), fresh, || {
            (session::SessionActor, session::SessionArgs { engine: weak, session_id: id })
        })
        .await?;
        Ok(SessionHandle(actor))
    }

    pub(crate) async fn entity(
        &self,
        engine: &Engine,
        project_id: &str,
        entity_id: &str,
        fresh: bool,
    ) -> EngineResult<EntityHandle> {
        let weak: Weak<Inner> = Arc::downgrade(&engine.inner);
        let key = (project_id.to_owned(), entity_id.to_owned());
        let args = entity::EntityArgs { engine: weak, project_id: key.0.clone(), entity_id: key.1.clone() };
        let actor = activate(&self.entities, key, fresh, || (entity::EntityActor, args)).await?;
        Ok(EntityHandle(actor))
    }

    /// A short poll through the session's actor (which enforces the interval).
    pub(crate) async fn poll_session(&self, engine: &Engine, session_id: &str) -> EngineResult<()> {
        with_retry(
            |fresh| self.session(engine, session_id, fresh),
            |handle| async move { handle.poll().await },
        )
        .await
    }

    /// A fresh access token through the entity's actor (which serializes refreshes).
    pub(crate) async fn access_token(
        &self,
        engine: &Engine,
        project_id: &str,
        entity_id: &str,
        connection_id: &str,
    ) -> EngineResult<(Connection, SecretString)> {
        with_retry(
            |fresh| self.entity(engine, project_id, entity_id, fresh),
            |handle| async move { handle.access_token(connection_id).await },
        )
        .await
    }

    /// How many actors are active now (for metrics and benchmarks).
    pub async fn active(&self) -> (usize, usize) {
        let sessions = self.sessions.lock().await.values().filter(|a| alive(a)).count();
        let entities = self.entities.lock().await.values().filter(|a| alive(a)).count();
        (sessions, entities)
    }

    pub(crate) fn keep_task(&self, handle: tokio::task::JoinHandle<()>) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(handle);
        }
    }

    pub(crate) async fn stop_all(&self) {
        for (_, actor) in self.sessions.lock().await.drain() {
            actor.stop(None);
        }
        for (_, actor) in self.entities.lock().await.drain() {
            actor.stop(None);
        }
        if let Ok(mut tasks) = self.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}
