//! The session actor: serializes a session's polls, enforces the device flow's
//! polling interval, and holds the timer that expires the session on time.

use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{AskError, ask};
use crate::engine::WeakEngine;
use crate::error::{EngineError, EngineResult};
use crate::model::session;

/// The most a `slow_down` stretches the interval to.
const MAX_INTERVAL: u32 = 60;
const IDLE_CHECK: Duration = Duration::from_secs(30);

pub enum SessionMsg {
    /// A short poll of the session's status: `Ok` or `SlowDown`.
    Poll(RpcReplyPort<EngineResult<()>>),
    /// The session's time is up.
    Expire,
    IdleCheck,
    /// Tests only: panic inside the actor.
    Crash,
}

// Local only: ractor's `cluster` feature asks every message type to say so.
impl ractor::Message for SessionMsg {}

pub struct SessionArgs {
    pub engine: WeakEngine,
    pub session_id: String,
}

pub struct SessionState {
    engine: WeakEngine,
    session_id: String,
    interval: u32,
    last_poll: Option<Instant>,
    last_active: Instant,
}

pub struct SessionActor;

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let engine = args.engine.upgrade().ok_or("the engine is gone")?;
        let tx = engine.inner.store.begin().await?;
        let record = session::get(&tx, &args.session_id).await?.ok_or("no such session")?;
        if !record.status.is_final() {
            let until = (record.expires_at.0 - engine.now().0).max(0) as u64;
            myself.send_after(Duration::from_millis(until + 5), || SessionMsg::Expire);
        }
        myself.send_after(IDLE_CHECK, || SessionMsg::IdleCheck);
        Ok(SessionState {
            engine: args.engine,
            session_id: args.session_id,
            interval: record.interval_secs,
            last_poll: None,
            last_active: Instant::now(),
        })
    }

    #[tracing::instrument(name = "actor.session", skip_all, fields(session = %state.session_id))]
    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        state.last_active = Instant::now();
        match message {
            SessionMsg::Poll(reply) => {
                let now = Instant::now();
                let too_soon = state.last_poll.is_some_and(|last| {
                    now.duration_since(last) < Duration::from_secs(u64::from(state.interval))
                });
                let answer = if too_soon {
                    state.interval = (state.interval + 5).min(MAX_INTERVAL);
                    Err(EngineError::SlowDown { interval: state.interval })
                } else {
                    Ok(())
                };
                state.last_poll = Some(now);
                let _ = reply.send(answer);
            }
            SessionMsg::Expire => {
                if let Some(engine) = state.engine.upgrade()
                    && let Err(error) = engine.expire_session(&state.session_id).await
                {
                    tracing::warn!(session = %state.session_id, %error, "expiring a session failed; the sweeper retries");
                }
            }
            SessionMsg::IdleCheck => {
                let idle =
                    state.engine.upgrade().map(|engine| engine.inner.settings.actor_idle).unwrap_or_default();
                if state.last_active.elapsed() >= idle {
                    myself.stop(Some("idle".into()));
                } else {
                    myself.send_after(IDLE_CHECK, || SessionMsg::IdleCheck);
                }
            }
            SessionMsg::Crash => crash(),
        }
        Ok(())
    }
}

#[allow(clippy::panic)]
fn crash() {
    panic!("session actor crash requested by a test");
}

/// A handle on a session's actor.
pub struct SessionHandle(pub(super) ActorRef<SessionMsg>);

impl SessionHandle {
    pub(crate) async fn poll(&self) -> Result<(), AskError> {
        ask(&self.0, SessionMsg::Poll).await
    }

    pub fn crash(&self) {
        let _ = self.0.cast(SessionMsg::Crash);
    }
}
