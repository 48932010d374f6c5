//! Webhook delivery against a scripted receiver, on a manual clock: the schedule,
//! the same `webhook-id` with fresh signed timestamps, `Retry-After`, 410.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use securix_engine::model::event::{self, EventDraft, EventKind};
use securix_engine::model::keys::SHARDS;
use securix_engine::store::Store;
use securix_engine::util::clock::{Clock, ManualClock, SystemClock, Timestamp};
use securix_engine::vault::MasterKey;
use securix_engine::webhooks::signing;
use securix_engine::{Engine, EngineSettings};
use serde_json::json;

use crate::support::backlog;
use crate::support::scripted::{Response, ScriptedServer};

const START: Timestamp = Timestamp(1_800_000_000_000);

async fn engine(clock: &ManualClock) -> Engine {
    let settings = EngineSettings {
        allow_loopback_http: true,
        webhook_poll: Duration::from_secs(3600),
        ..EngineSettings::default()
    };
    Engine::builder()
        .store(Store::memory())
        .master_key(MasterKey::generate())
        .clock(Arc::new(clock.clone()))
        .settings(settings)
        .build()
        .await
        .unwrap()
}

async fn outbox_len(engine: &Engine) -> usize {
    let tx = engine.store().begin().await.unwrap();
    let mut total = 0;
    for shard in 0..SHARDS {
        total += securix_engine::model::outbox::len(&tx, shard).await.unwrap();
    }
    total
}

async fn emit(engine: &Engine, project_id: &str) {
    let now = START;
    let project_id = project_id.to_owned();
    engine
        .store()
        .run(|tx| {
            let project_id = project_id.clone();
            async move {
                let draft = EventDraft {
                    entity_id: Some("user_1".into()),
                    connection_id: Some("con_x".into()),
                    status: Some("active".into()),
                    ..EventDraft::default()
                };
                event::append(&tx, &project_id, EventKind::ConnectionCreated, draft, now).await
            }
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_schedule_with_the_same_id_and_fresh_signatures() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let receiver = ScriptedServer::start(move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if n < 2 { Response::json(500, json!({})) } else { Response::json(200, json!({})) }
    })
    .await;
    let clock = ManualClock::new(START);
    let engine = engine(&clock).await;
    let project = engine.create_project("Hooks").await.unwrap();
    let keys = engine.webhook_keys(&project.id).await.unwrap();
    let public = signing::parse_public_key(&keys[0].public_key).unwrap();
    engine.add_webhook_endpoint(&project.id, &format!("{}/hook", receiver.base_url), None).await.unwrap();
    emit(&engine, &project.id).await;

    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "sent at once");
    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "not again before 5 s");
    clock.advance_millis(5_600);
    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the 5 s retry");
    clock.advance_millis(200_000);
    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the next wait is 5 minutes");
    clock.advance_millis(10 * 3_600_000);
    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(outbox_len(&engine).await, 0, "delivered, so it leaves the outbox");

    let requests = receiver.requests();
    let ids: Vec<&str> = requests.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "the same webhook-id on every attempt: {ids:?}");
    let stamps: Vec<&str> = requests.iter().map(|r| r.header("webhook-timestamp").unwrap()).collect();
    assert_ne!(stamps[0], stamps[2], "a fresh timestamp on every attempt");
    for request in &requests {
        let stamp = request.header("webhook-timestamp").unwrap();
        let now = stamp.parse::<i64>().unwrap();
        // A retry 10 hours later still verifies, against its own fresh timestamp.
        signing::verify(
            &[public],
            ids[0],
            stamp,
            request.header("webhook-signature").unwrap(),
            &request.body,
            now,
        )
        .unwrap();
        let body = String::from_utf8_lossy(&request.body);
        assert!(body.contains("\"connection.created\"") && body.contains("con_x"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_and_retry_after_is_honoured() {
    let gone = ScriptedServer::start(|_| Response::json(410, json!({}))).await;
    let busy = ScriptedServer::start(|_| Response {
        status: 503,
        headers: vec![("retry-after".into(), "3600".into())],
        body: vec![],
    })
    .await;
    let clock = ManualClock::new(START);
    let engine = engine(&clock).await;
    let project = engine.create_project("Hooks").await.unwrap();
    engine.add_webhook_endpoint(&project.id, &format!("{}/gone", gone.base_url), None).await.unwrap();
    engine
        .add_webhook_endpoint(
            &project.id,
            &format!("{}/busy", busy.base_url),
            Some(vec!["connection.created".into()]),
        )
        .await
        .unwrap();
    emit(&engine, &project.id).await;
    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(gone.requests().len(), 1);
    assert_eq!(busy.requests().len(), 1);
    // Five minutes later is the schedule's second step, but the receiver asked for an hour.
    clock.advance_millis(10_000);
    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(busy.requests().len(), 1, "Retry-After: 3600 is honoured");
    clock.advance_millis(3_600_000);
    engine.deliver_due_webhooks().await.unwrap();
    assert_eq!(busy.requests().len(), 2);
    assert_eq!(gone.requests().len(), 1, "410 disabled that endpoint");
    let tx = engine.store().begin().await.unwrap();
    let kinds: Vec<_> =
        event::list(&tx, &project.id, None, 100).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::EndpointDisabled), "{kinds:?}");
    // Endpoints on private addresses are refused at registration.
    assert!(engine.add_webhook_endpoint(&project.id, "https://192.168.1.10/hook", None).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_even_when_no_one_asked_for_the_keys_first() {
    let receiver = ScriptedServer::start(|_| Response::json(204, json!({}))).await;
    let clock = ManualClock::new(START);
    let engine = engine(&clock).await;
    let project = engine.create_project("Fresh").await.unwrap();
    engine.add_webhook_endpoint(&project.id, &format!("{}/hook", receiver.base_url), None).await.unwrap();
    emit(&engine, &project.id).await;
    engine.deliver_due_webhooks().await.unwrap();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let keys = engine.webhook_keys(&project.id).await.unwrap();
    assert_eq!(keys.len(), 1, "registering the endpoint made the first key");
    let public = signing::parse_public_key(&keys[0].public_key).unwrap();
    let request = &requests[0];
    let stamp = request.header("webhook-timestamp").unwrap();
    signing::verify(
        &[public],
        request.header("webhook-id").unwrap(),
        stamp,
        request.header("webhook-signature").unwrap(),
        &request.body,
        stamp.parse().unwrap(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_verifies_under_its_own_projects_keys_only() {
    let receiver = ScriptedServer::start(|_| Response::json(204, json!({}))).await;
    let clock = ManualClock::new(START);
    let engine = engine(&clock).await;
    let a = engine.create_project("A").await.unwrap();
    let b = engine.create_project("B").await.unwrap();
    engine.add_webhook_endpoint(&a.id, &format!("{}/hook", receiver.base_url), None).await.unwrap();
    engine.add_webhook_endpoint(&b.id, &format!("{}/hook", receiver.base_url), None).await.unwrap();
    emit(&engine, &a.id).await;
    engine.deliver_due_webhooks().await.unwrap();

    let public_of = |project: String| {
        let engine = engine.clone();
        async move {
            let keys = engine.webhook_keys(&project).await.unwrap();
            keys.iter().map(|k| signing::parse_public_key(&k.public_key).unwrap()).collect::<Vec<_>>()
        }
    };
    let (keys_a, keys_b) = (public_of(a.id.clone()).await, public_of(b.id.clone()).await);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let verify = |keys: &[_]| {
        let stamp = request.header("webhook-timestamp").unwrap();
        signing::verify(
            keys,
            request.header("webhook-id").unwrap(),
            stamp,
            request.header("webhook-signature").unwrap(),
            &request.body,
            stamp.parse().unwrap(),
        )
    };
    verify(&keys_a).unwrap();
    assert!(verify(&keys_b).is_err(), "project B's published keys do not verify project A's delivery");

    // Rotation and retirement are per project too.
    let rotated = engine.rotate_webhook_key(&a.id).await.unwrap();
    engine.retire_webhook_key(&b.id, &rotated.id).await.unwrap_err();
    engine.retire_webhook_key(&a.id, &rotated.id).await.unwrap();
    assert_eq!(engine.webhook_keys(&b.id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_endpoint_gets_its_event_within_a_second_beside_a_black_hole_backlog() {
    let engine = backlog::delivering_engine(Duration::from_millis(100)).await.unwrap();
    let stuck = engine.create_project("Stuck").await.unwrap();
    engine.add_webhook_endpoint(&stuck.id, &backlog::black_hole().await.unwrap(), None).await.unwrap();
    backlog::emit(&engine, &stuck.id, 3000, SystemClock.now()).await.unwrap();
    // Let the worker fill the black hole's slots with deliveries that never end.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let receiver = ScriptedServer::start(|_| Response::json(204, json!({}))).await;
    let live = engine.create_project("Live").await.unwrap();
    engine.add_webhook_endpoint(&live.id, &format!("{}/hook", receiver.base_url), None).await.unwrap();
    let started = std::time::Instant::now();
    backlog::emit(&engine, &live.id, 1, SystemClock.now()).await.unwrap();
    while receiver.requests().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the live project's event waited behind the black hole"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_points_inside_is_refused_where_the_connection_is_made() {
    // Counts connections: the policy must refuse before any is made.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let clock = ManualClock::new(START);
    // No loopback allowance: a production engine.
    let engine = Engine::builder()
        .store(Store::memory())
        .master_key(MasterKey::generate())
        .clock(Arc::new(clock.clone()))
        .settings(EngineSettings { webhook_poll: Duration::from_secs(3600), ..EngineSettings::default() })
        .build()
        .await
        .unwrap();
    let project = engine.create_project("Rebound").await.unwrap();
    // A name passes registration; what it resolves to (loopback) is refused at connect.
    engine.add_webhook_endpoint(&project.id, &format!("https://localhost:{port}/hook"), None).await.unwrap();
    emit(&engine, &project.id).await;
    assert_eq!(engine.deliver_due_webhooks().await.unwrap(), 0);
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection reached the internal address");
    assert_eq!(outbox_len(&engine).await, 1, "the delivery waits for a retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_a_project_a_dead_endpoint_does_not_hold_the_live_one() {
    let engine = backlog::delivering_engine(Duration::from_millis(50)).await.unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let receiver = ScriptedServer::start(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Response::json(204, json!({}))
    })
    .await;
    let project = engine.create_project("Half dead").await.unwrap();
    engine.add_webhook_endpoint(&project.id, &backlog::black_hole().await.unwrap(), None).await.unwrap();
    engine.add_webhook_endpoint(&project.id, &format!("{}/hook", receiver.base_url), None).await.unwrap();
    // More per shard than a round reads of one project (16): the dead endpoint's
    // leftovers must not keep the head of the queue.
    const EVENTS: usize = 1500;
    backlog::emit(&engine, &project.id, EVENTS, SystemClock.now()).await.unwrap();
    let started = std::time::Instant::now();
    while received.load(Ordering::SeqCst) < EVENTS {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the live endpoint got {} of {EVENTS}",
            received.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
