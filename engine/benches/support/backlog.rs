//! Webhook backlogs for the outbox benchmark and tests: events queued in bulk, and
//! a receiver that accepts connections and never answers.

use std::time::Duration;

use securix_engine::model::RecordError;
use securix_engine::model::event::{self, EventDraft, EventKind};
use securix_engine::store::Store;
use securix_engine::util::clock::Timestamp;
use securix_engine::vault::MasterKey;
use securix_engine::{Engine, EngineError, EngineSettings};

/// An engine on the real clock whose own worker delivers every `poll`, to loopback.
pub async fn delivering_engine(poll: Duration) -> Result<Engine, EngineError> {
    let settings =
        EngineSettings { allow_loopback_http: true, webhook_poll: poll, ..EngineSettings::default() };
    Engine::builder()
        .store(Store::memory())
        .master_key(MasterKey::generate())
        .settings(settings)
        .build()
        .await
}

/// Queues `count` events for `project_id`, spread over entities (and so shards).
pub async fn emit(
    engine: &Engine,
    project_id: &str,
    count: usize,
    now: Timestamp,
) -> Result<(), RecordError> {
    for first in (0..count).step_by(200) {
        let project_id = project_id.to_owned();
        engine
            .store()
            .run(|tx| {
                let project_id = project_id.clone();
                async move {
                    for n in first..(first + 200).min(count) {
                        let draft =
                            EventDraft { entity_id: Some(format!("user_{n}")), ..EventDraft::default() };
                        event::append(&tx, &project_id, EventKind::ConnectionCreated, draft, now).await?;
                    }
                    Ok::<_, RecordError>(())
                }
            })
            .await?;
    }
    Ok(())
}

/// Accepts connections and never answers: every delivery to it waits for its timeout.
pub async fn black_hole() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(format!("http://{address}/hook"))
}
