//! Entity actors against bare `ractor` actors that do nothing, in the same run:
//! activation, a round trip to an active actor (target: at most 1.5× each), and
//! memory per active actor at 100,000 of them (target: at most 2×).
//!
//! `cargo bench -p securix-engine --bench actors`

use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use securix_engine::Engine;
use securix_engine::store::Store;
use securix_engine::vault::MasterKey;

const ACTIVATIONS: usize = 20_000;
const ROUND_TRIPS: usize = 100_000;
const RESIDENT: usize = 100_000;

struct Bare;

/// A reply port alone: the least a message can be.
struct Ping(RpcReplyPort<()>);

impl ractor::Message for Ping {}

impl Actor for Bare {
    type Msg = Ping;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        Ping(reply): Self::Msg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _ = reply.send(());
        Ok(())
    }
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

async fn bare_round_trip(actor: &ActorRef<Ping>) {
    let _ = actor.call(Ping, Some(Duration::from_secs(5))).await;
}

fn per_op(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / n as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let engine = Engine::builder().store(Store::memory()).master_key(MasterKey::generate()).build().await?;
        let project = "prj_benchbenchbenchbenchbenchbe";

        // Activation (spawn + first round trip).
        let started = Instant::now();
        for n in 0..ACTIVATIONS {
            engine.ping_entity(project, &format!("entity-{n}")).await?;
        }
        let entity_activation = per_op(started.elapsed(), ACTIVATIONS);
        let mut bare = Vec::with_capacity(ACTIVATIONS);
        let started = Instant::now();
        for _ in 0..ACTIVATIONS {
            let (actor, _) = Actor::spawn(None, Bare, ()).await?;
            bare_round_trip(&actor).await;
            bare.push(actor);
        }
        let bare_activation = per_op(started.elapsed(), ACTIVATIONS);
        println!("activation:  entity {entity_activation:>7.2} µs, bare ractor {bare_activation:>7.2} µs, ratio {:.2}x (target <= 1.5x)", entity_activation / bare_activation);

        // Round trip to an active actor.
        let started = Instant::now();
        for _ in 0..ROUND_TRIPS {
            engine.ping_entity(project, "entity-0").await?;
        }
        let entity_trip = per_op(started.elapsed(), ROUND_TRIPS);
        let started = Instant::now();
        for _ in 0..ROUND_TRIPS {
            bare_round_trip(&bare[0]).await;
        }
        let bare_trip = per_op(started.elapsed(), ROUND_TRIPS);
        println!("round trip:  entity {entity_trip:>7.2} µs, bare ractor {bare_trip:>7.2} µs, ratio {:.2}x (target <= 1.5x)", entity_trip / bare_trip);
        for actor in bare.drain(..) {
            actor.stop(None);
        }
        engine.shutdown().await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Memory per active actor at 100,000.
        let engine = Engine::builder().store(Store::memory()).master_key(MasterKey::generate()).build().await?;
        let before = resident_bytes();
        for n in 0..RESIDENT {
            engine.ping_entity(project, &format!("resident-{n}")).await?;
        }
        let entity_bytes = (resident_bytes().saturating_sub(before)) as f64 / RESIDENT as f64;
        let before = resident_bytes();
        let mut bare = Vec::with_capacity(RESIDENT);
        for _ in 0..RESIDENT {
            let (actor, _) = Actor::spawn(None, Bare, ()).await?;
            bare.push(actor);
        }
        let bare_bytes = (resident_bytes().saturating_sub(before)) as f64 / RESIDENT as f64;
        println!("memory:      entity {entity_bytes:>7.0} B, bare ractor {bare_bytes:>7.0} B per active actor, ratio {:.2}x (target <= 2x)", entity_bytes / bare_bytes.max(1.0));
        println!("active entity actors: {}", engine.active_actors().await.1);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
