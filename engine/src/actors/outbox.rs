//! One delivery actor per shard this node owns: on each tick it starts the
//! deliveries of its shard's outbox that are due and have a slot (they run on
//! their own; the dispatcher keeps an event from being sent twice at once), and a
//! crashed actor is replaced on the next tick of the supervisor loop.

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::engine::WeakEngine;

pub enum OutboxMsg {
    Tick,
}

// Local only: ractor's `cluster` feature asks every message type to say so.
impl ractor::Message for OutboxMsg {}

pub struct OutboxArgs {
    pub engine: WeakEngine,
    pub shard: u32,
}

pub struct OutboxState {
    engine: WeakEngine,
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
        Ok(OutboxState { engine: args.engine, shard: args.shard })
    }

    async fn handle(
        &self,
        myself: ActorRef<OutboxMsg>,
        _message: OutboxMsg,
        state: &mut OutboxState,
    ) -> Result<(), ActorProcessingErr> {
        let Some(engine) = state.engine.upgrade() else {
            myself.stop(None);
            return Ok(());
        };
        if engine.inner.placement.owns(state.shard)
            && let Err(error) = engine.dispatch_shard(state.shard).await
        {
            tracing::warn!(shard = state.shard, %error, "webhook delivery round failed");
        }
        Ok(())
    }
}
