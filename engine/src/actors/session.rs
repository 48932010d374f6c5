//! The session actor: serializes a session's polls, enforces the device flow's
//! polling interval, and holds the timer that expires the session on time.

use std::sync::Weak;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{AskError, Registry, ask, with_retry};
use crate::error::{EngineError, EngineResult};

/// The most a `slow_down` stretches the interval to.
const MAX_INTERVAL: u32 = 60;
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// What a session actor works for: the room that keeps sessions.
#[async_trait::async_trait]
pub(crate) trait SessionExpirer: Send + Sync + 'static {
    /// What the actor needs to know of a session when it starts; `None`: no such session.
    async fn timing(&self, session_id: &str) -> EngineResult<Option<SessionTiming>>;

    /// Expires the session if its time has come (idempotent).
    async fn expire(&self, session_id: &str) -> EngineResult<bool>;
}

pub(crate) struct SessionTiming {
    /// The polling interval the session told its client, in seconds.
    pub interval_secs: u32,
    /// How long until the session's time is up; `None` once it is final.
    pub expires_in: Option<Duration>,
}

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
    expirer: Weak<dyn SessionExpirer>,
    idle: Duration,
    session_id: String,
}

pub struct SessionState {
    expirer: Weak<dyn SessionExpirer>,
    idle: Duration,
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
        let expirer = args.expirer.upgrade().ok_or("the engine is gone")?;
        let timing = expirer.timing(&args.session_id).await?.ok_or("no such session")?;
        if let Some(until) = timing.expires_in {
            myself.send_after(until + Duration::from_millis(5), || SessionMsg::Expire);
        }
        myself.send_after(IDLE_CHECK, || SessionMsg::IdleCheck);
        Ok(SessionState {
            expirer: args.expirer,
            idle: args.idle,
            session_id: args.session_id,
            interval: timing.interval_secs,
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
                if let Some(expirer) = state.expirer.upgrade()
                    && let Err(error) = expirer.expire(&state.session_id).await
                {
                    tracing::warn!(session = %state.session_id, %error, "expiring a session failed; the sweeper retries");
                }
            }
            SessionMsg::IdleCheck => {
                // Its room gone (the engine dropped), an actor has nothing left to do.
                let idle = if state.expirer.strong_count() > 0 { state.idle } else { Duration::ZERO };
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
struct SessionHandle(ActorRef<SessionMsg>);

impl SessionHandle {
    async fn poll(&self) -> Result<(), AskError> {
        ask(&self.0, SessionMsg::Poll).await
    }
}

/// The session actors of this node, working for one `SessionExpirer`.
pub(crate) struct Sessions {
    registry: Registry<SessionMsg>,
    expirer: Weak<dyn SessionExpirer>,
    /// How long an idle actor stays in memory.
    idle: Duration,
}

impl Sessions {
    pub fn new(expirer: Weak<dyn SessionExpirer>, idle: Duration) -> Self {
        Sessions { registry: Registry::default(), expirer, idle }
    }

    async fn activate(&self, session_id: &str, fresh: bool) -> EngineResult<SessionHandle> {
        let actor = self
            .registry
            .activate(session_id, fresh, || {
                let args = SessionArgs {
                    expirer: self.expirer.clone(),
                    idle: self.idle,
                    session_id: session_id.to_owned(),
                };
                (SessionActor, args)
            })
            .await?;
        Ok(SessionHandle(actor))
    }

    /// A short poll through the session's actor (which enforces the interval).
    pub async fn poll(&self, session_id: &str) -> EngineResult<()> {
        with_retry(|fresh| self.activate(session_id, fresh), |handle| async move { handle.poll().await })
            .await
    }

    /// Tests only: makes the session's actor panic.
    pub async fn crash(&self, session_id: &str) -> EngineResult<()> {
        let _ = self.activate(session_id, false).await?.0.cast(SessionMsg::Crash);
        Ok(())
    }

    /// How many session actors are active now.
    pub fn active(&self) -> usize {
        self.registry.count_alive()
    }

    pub fn stop_all(&self) {
        self.registry.stop_all();
    }
}
