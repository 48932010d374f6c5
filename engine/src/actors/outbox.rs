//! One delivery actor per shard this node owns: on each tick it starts the
//! deliveries of its shard's outbox that are due and have a slot (they run on
//! their own; the dispatcher keeps an event from being sent twice at once), and a
//! crashed actor is replaced on the next tick of the supervisor loop.

use std::sync::{Arc, Weak};

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::Registry;
use crate::error::EngineResult;

/// What a delivery actor works for: the room that delivers webhooks.
#[async_trait::async_trait]
pub(crate) trait ShardDispatcher: Send + Sync + 'static {
    /// Starts the due deliveries of `shard` if this node still owns it, without
    /// waiting for them (they run on their own, holding the dispatcher).
    async fn dispatch_shard(self: Arc<Self>, shard: u32) -> EngineResult<()>;
}

pub enum OutboxMsg {
    Tick,
}

// Local only: ractor's `cluster` feature asks every message type to say so.
impl ractor::Message for OutboxMsg {}

pub struct OutboxArgs {
    dispatcher: Weak<dyn ShardDispatcher>,
    shard: u32,
}

pub struct OutboxState {
    dispatcher: Weak<dyn ShardDispatcher>,
    shard: u32,
}

pub struct OutboxActor;

impl Actor for OutboxActor {
    type Msg = OutboxMsg;
    type State = OutboxState;
    type Arguments = OutboxArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<OutboxMsg>,
        args: OutboxArgs,
    ) -> Result<OutboxState, ActorProcessingErr> {
        Ok(OutboxState { dispatcher: args.dispatcher, shard: args.shard })
    }

    async fn handle(
        &self,
        myself: ActorRef<OutboxMsg>,
        _message: OutboxMsg,
        state: &mut OutboxState,
    ) -> Result<(), ActorProcessingErr> {
        let Some(dispatcher) = state.dispatcher.upgrade() else {
            myself.stop(None);
            return Ok(());
        };
        if let Err(error) = dispatcher.dispatch_shard(state.shard).await {
            tracing::warn!(shard = state.shard, %error, "webhook delivery round failed");
        }
        Ok(())
    }
}

/// The delivery actors of this node, one per owned shard, working for one
/// `ShardDispatcher`.
pub(crate) struct Outboxes {
    registry: Registry<OutboxMsg>,
    dispatcher: Weak<dyn ShardDispatcher>,
}

impl Outboxes {
    pub fn new(dispatcher: Weak<dyn ShardDispatcher>) -> Self {
        Outboxes { registry: Registry::default(), dispatcher }
    }

    /// Ticks the shard's delivery actor, starting it if it is not running (a
    /// crashed one is replaced here).
    pub async fn tick(&self, shard: u32) -> EngineResult<()> {
        let actor = self
            .registry
            .activate(&shard.to_string(), false, || {
                (OutboxActor, OutboxArgs { dispatcher: self.dispatcher.clone(), shard })
            })
            .await?;
        // A busy actor still has a tick queued; one more is enough.
        let _ = actor.cast(OutboxMsg::Tick);
        Ok(())
    }

    pub fn stop_all(&self) {
        self.registry.stop_all();
    }
}
