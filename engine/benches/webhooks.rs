//! Webhooks: signed deliveries per second from the outbox to a local receiver,
//! against a plain HTTP POST loop to the same receiver in the same run (target: at
//! least 0.5×); signing and verifying per second against bare ed25519-dalek.
//!
//! `cargo bench -p securix-engine --bench webhooks`

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey, Verifier};
use securix_engine::model::event::{self, EventDraft, EventKind};
use securix_engine::store::Store;
use securix_engine::util::clock::{ManualClock, Timestamp};
use securix_engine::vault::MasterKey;
use securix_engine::webhooks::signing;
use securix_engine::{Engine, EngineSettings};

#[path = "support/keepalive.rs"]
mod keepalive;

const DELIVERIES: usize = 2000;
const SIGNATURES: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let receiver = keepalive::serve(|_| String::new()).await?;
        let body = br#"{"type":"connection.created","timestamp":"2027-01-15T08:00:00.000Z","data":{"eventId":"evt_x","entityId":"user_1","sessionId":null,"connectionId":"con_x","status":"active"}}"#;

        let plain = reqwest::Client::new();
        let started = Instant::now();
        for _ in 0..DELIVERIES {
            plain.post(format!("{receiver}/hook")).header("content-type", "application/json").body(body.to_vec()).send().await?.bytes().await?;
        }
        let plain_rate = DELIVERIES as f64 / started.elapsed().as_secs_f64();

        let clock = ManualClock::new(Timestamp(1_800_000_000_000));
        let settings = EngineSettings { allow_loopback_http: true, webhook_poll: Duration::from_secs(3600), ..EngineSettings::default() };
        let engine = Engine::builder().store(Store::memory()).master_key(MasterKey::generate()).clock(Arc::new(clock.clone())).settings(settings).build().await?;
        let project = engine.create_project("Bench").await?;
        engine.add_webhook_endpoint(&project.id, &format!("{receiver}/hook"), None).await?;
        engine.webhook_keys(&project.id).await?;
        for n in 0..DELIVERIES {
            let project_id = project.id.clone();
            engine
                .store()
                .run(|tx| {
                    let project_id = project_id.clone();
                    async move {
                        let draft = EventDraft { entity_id: Some(format!("user_{n}")), connection_id: Some("con_x".into()), status: Some("active".into()), ..EventDraft::default() };
                        event::append(&tx, &project_id, EventKind::ConnectionCreated, draft, Timestamp(1_800_000_000_000)).await
                    }
                })
                .await?;
        }
        let started = Instant::now();
        let mut delivered = 0;
        while delivered < DELIVERIES {
            let round = engine.deliver_due_webhooks().await?;
            if round == 0 {
                break;
            }
            delivered += round;
        }
        let signed_rate = delivered as f64 / started.elapsed().as_secs_f64();
        println!("plain POST loop:        {plain_rate:>8.0} requests/s");
        println!("signed outbox delivery: {signed_rate:>8.0} deliveries/s ({delivered} delivered)");
        println!("ratio signed/plain: {:.2}x (target >= 0.5x)", signed_rate / plain_rate);

        let key = SigningKey::from_bytes(&[9u8; 32]);
        let public = key.verifying_key();
        let started = Instant::now();
        for n in 0..SIGNATURES {
            std::hint::black_box(signing::sign(&key, "evt_x", n as i64, body));
        }
        let ours_sign = SIGNATURES as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for n in 0..SIGNATURES {
            let mut content = format!("evt_x.{n}.").into_bytes();
            content.extend_from_slice(body);
            std::hint::black_box(key.sign(&content));
        }
        let bare_sign = SIGNATURES as f64 / started.elapsed().as_secs_f64();
        let header = signing::sign(&key, "evt_x", 1_800_000_000, body);
        let started = Instant::now();
        for _ in 0..SIGNATURES {
            std::hint::black_box(signing::verify(&[public], "evt_x", "1800000000", &header, body, 1_800_000_000).is_ok());
        }
        let ours_verify = SIGNATURES as f64 / started.elapsed().as_secs_f64();
        let signature = key.sign(&[b"evt_x.1800000000.".as_slice(), body].concat());
        let started = Instant::now();
        for _ in 0..SIGNATURES {
            let content = [b"evt_x.1800000000.".as_slice(), body].concat();
            std::hint::black_box(public.verify(&content, &signature).is_ok());
        }
        let bare_verify = SIGNATURES as f64 / started.elapsed().as_secs_f64();
        println!("sign:   ours {ours_sign:>8.0}/s, bare ed25519-dalek {bare_sign:>8.0}/s, ratio {:.2}x", ours_sign / bare_sign);
        println!("verify: ours {ours_verify:>8.0}/s, bare ed25519-dalek {bare_verify:>8.0}/s, ratio {:.2}x", ours_verify / bare_verify);
        engine.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
