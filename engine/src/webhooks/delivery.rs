//! The delivery worker: drains the outbox of the shards this node owns. At least
//! once: an outbox entry leaves only when every endpoint it owes took it (2xx);
//! every attempt carries the same `webhook-id` with a fresh timestamp and
//! signature; failures wait per the schedule (with jitter, or the receiver's
//! `Retry-After` when longer); 410 disables the endpoint; an endpoint failing past
//! the schedule's end is disabled and an `endpoint.disabled` event says so.

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng;

use super::{endpoints, keyring, signing};
use crate::clock::{Rfc3339, Timestamp};
use crate::engine::Engine;
use crate::error::EngineResult;
use crate::model::event::{self, Event, EventDraft, EventKind, OutboxEntry};
use crate::model::keys::{self, SHARDS};

/// When to try again after the n-th failure: about a day in all.
pub fn default_schedule() -> Vec<Duration> {
    [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000].into_iter().map(Duration::from_secs).collect()
}

/// What one delivery round loads once per project.
struct Round {
    signing_keys: HashMap<String, Vec<ed25519_dalek::SigningKey>>,
    endpoints: HashMap<String, Vec<endpoints::Endpoint>>,
}

/// What one attempt at one endpoint came to.
enum Attempt {
    Delivered,
    Retry { after: Option<Duration> },
    Gone,
}

/// The thin payload: ids, type, status, times — never a token.
pub fn payload(event: &Event) -> Vec<u8> {
    let data = serde_json::json!({
        "eventId": event.id,
        "entityId": event.entity_id,
        "sessionId": event.session_id,
        "connectionId": event.connection_id,
        "status": event.status,
    });
    let kind = serde_json::to_value(event.kind).unwrap_or_default();
    serde_json::json!({ "type": kind, "timestamp": Rfc3339(event.created_at), "data": data })
        .to_string()
        .into_bytes()
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(|secs| Duration::from_secs(secs.min(86_400)))
}

impl Engine {
    /// Delivers every outbox entry that is due, on the shards this node owns.
    pub async fn deliver_due_webhooks(&self) -> EngineResult<usize> {
        let mut delivered = 0;
        for shard in (0..SHARDS).filter(|s| self.inner.placement.owns(*s)) {
            delivered += self.deliver_shard(shard).await?;
        }
        Ok(delivered)
    }

    /// Delivers the due entries of one shard's outbox (what its actor runs).
    pub(crate) async fn deliver_shard(&self, shard: u32) -> EngineResult<usize> {
        let now = self.now();
        let mut delivered = 0;
        // Loaded once per round: the signing keys and each project's endpoints.
        let mut round = Round { signing_keys: HashMap::new(), endpoints: HashMap::new() };
        let tx = self.inner.store.begin().await?;
        let entries = event::outbox(&tx, shard, 256).await?;
        drop(tx);
        for entry in entries.into_iter().filter(|e| e.due_at <= now) {
            if self.deliver_entry(shard, entry, &mut round).await? {
                delivered += 1;
            }
        }
        Ok(delivered)
    }

    #[tracing::instrument(name = "webhook.send", skip_all, fields(event = %event.id))]
    async fn send_once(
        &self,
        url: &str,
        event: &Event,
        body: &[u8],
        signing_keys: &[ed25519_dalek::SigningKey],
    ) -> Attempt {
        let allow_loopback = self.inner.settings.allow_loopback_http;
        if endpoints::check_url(url, allow_loopback).is_err() {
            return Attempt::Gone;
        }
        // Check where a name points now, not only when it was registered (an IP
        // literal was checked by `check_url` already).
        let named = reqwest::Url::parse(url).ok().filter(|u| {
            u.host_str().is_some_and(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_err())
        });
        if let Some(parsed) = named {
            let host = parsed.host_str().unwrap_or_default().to_owned();
            let port = parsed.port_or_known_default().unwrap_or(443);
            if let Ok(addresses) = tokio::net::lookup_host((host.trim_matches(['[', ']']), port)).await
                && addresses
                    .into_iter()
                    .any(|a| endpoints::is_internal(a.ip()) && !(allow_loopback && a.ip().is_loopback()))
            {
                return Attempt::Retry { after: None };
            }
        }
        let timestamp = self.now().0 / 1000;
        let signatures: Vec<String> =
            signing_keys.iter().map(|key| signing::sign(key, &event.id, timestamp, body)).collect();
        let sent = self
            .inner
            .webhook_client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) if response.status().as_u16() == 410 => Attempt::Gone,
            Ok(response) => Attempt::Retry { after: retry_after(&response) },
            Err(_) => Attempt::Retry { after: None },
        }
    }

    /// One outbox entry: send to every endpoint still owed, then record the outcome.
    async fn deliver_entry(&self, shard: u32, entry: OutboxEntry, round: &mut Round) -> EngineResult<bool> {
        let tx = self.inner.store.begin().await?;
        let Some(event) = event::get(&tx, &entry.project_id, entry.seq).await? else {
            drop(tx);
            self.clear_outbox(shard, &entry.event_id).await?;
            return Ok(false);
        };
        if !round.endpoints.contains_key(&entry.project_id) {
            round.endpoints.insert(entry.project_id.clone(), endpoints::list(&tx, &entry.project_id).await?);
        }
        let all_endpoints = round.endpoints.get(&entry.project_id).cloned().unwrap_or_default();
        if !round.signing_keys.contains_key(&entry.project_id) {
            let project = &entry.project_id;
            let mut keys = keyring::signing_keys(&tx, &self.inner.vault, project).await?;
            if keys.is_empty() {
                // Never send unsigned: make the first key, as `GET /v1/webhooks/keys` would.
                self.webhook_keys(project).await?;
                keys = keyring::signing_keys(&self.inner.store.begin().await?, &self.inner.vault, project)
                    .await?;
            }
            round.signing_keys.insert(project.clone(), keys);
        }
        let signing_keys = round.signing_keys.get(&entry.project_id).cloned().unwrap_or_default();
        drop(tx);
        let kind = serde_json::to_value(event.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let owed: Vec<endpoints::Endpoint> = all_endpoints
            .into_iter()
            .filter(|e| {
                e.wants(&kind) && entry.remaining_endpoints.as_ref().is_none_or(|ids| ids.contains(&e.id))
            })
            .collect();
        let body = payload(&event);
        let mut failed = Vec::new();
        let mut gone = Vec::new();
        let mut longest_wait: Option<Duration> = None;
        for endpoint in &owed {
            match self.send_once(&endpoint.url, &event, &body, &signing_keys).await {
                Attempt::Delivered => {}
                Attempt::Gone => gone.push(endpoint.id.clone()),
                Attempt::Retry { after } => {
                    failed.push(endpoint.id.clone());
                    longest_wait = longest_wait.max(after);
                }
            }
        }
        self.record_attempt(shard, entry, &owed, failed.clone(), gone, longest_wait).await?;
        Ok(failed.is_empty())
    }

    async fn clear_outbox(&self, shard: u32, event_id: &str) -> EngineResult<()> {
        let key = keys::outbox(shard).pack(&(event_id,));
        let placement = &self.inner.placement;
        self.inner
            .store
            .run(|tx| {
                let key = key.clone();
                async move {
                    placement.fence(&tx, shard).await?;
                    Ok::<_, crate::EngineError>(tx.clear(&key)?)
                }
            })
            .await
    }

    async fn record_attempt(
        &self,
        shard: u32,
        entry: OutboxEntry,
        owed: &[endpoints::Endpoint],
        failed: Vec<String>,
        gone: Vec<String>,
        retry_after: Option<Duration>,
    ) -> EngineResult<()> {
        let now = self.now();
        let schedule = &self.inner.settings.webhook_schedule;
        let attempts = entry.attempts + 1;
        let exhausted = attempts as usize >= schedule.len().max(1);
        let wait = schedule.get(attempts as usize).copied().unwrap_or_default();
        let jitter =
            if wait.is_zero() { 0 } else { rand::thread_rng().gen_range(0..=wait.as_millis() as i64 / 10) };
        let wait_ms = (wait.as_millis() as i64 + jitter).max(retry_after.map_or(0, |d| d.as_millis() as i64));
        let owed = owed.to_vec();
        let placement = &self.inner.placement;
        self.inner
            .store
            .run(|tx| {
                let (entry, failed, gone, owed) = (entry.clone(), failed.clone(), gone.clone(), owed.clone());
                async move {
                    placement.fence(&tx, shard).await?;
                    let key = keys::outbox(shard).pack(&(entry.event_id.as_str(),));
                    // Endpoints that said 410, or that failed to the schedule's end, are disabled.
                    let disable: Vec<&endpoints::Endpoint> = owed
                        .iter()
                        .filter(|e| gone.contains(&e.id) || (exhausted && failed.contains(&e.id)))
                        .collect();
                    for endpoint in &disable {
                        let mut endpoint = (*endpoint).clone();
                        endpoint.enabled = false;
                        endpoints::put(&tx, &endpoint)?;
                        let draft = EventDraft {
                            status: Some(format!("disabled {}", endpoint.id)),
                            ..EventDraft::default()
                        };
                        event::append(&tx, &endpoint.project_id, EventKind::EndpointDisabled, draft, now)
                            .await?;
                    }
                    for endpoint in owed.iter().filter(|e| !gone.contains(&e.id)) {
                        let failing = failed.contains(&endpoint.id);
                        if failing != endpoint.failing_since.is_some() {
                            let mut endpoint = endpoint.clone();
                            endpoint.failing_since = failing.then_some(now);
                            if !disable.iter().any(|d| d.id == endpoint.id) {
                                endpoints::put(&tx, &endpoint)?;
                            }
                        }
                    }
                    if failed.is_empty() || exhausted {
                        tx.clear(&key)?;
                    } else {
                        let next = OutboxEntry {
                            attempts,
                            due_at: now.plus_millis(wait_ms),
                            remaining_endpoints: Some(failed),
                            ..entry
                        };
                        crate::model::put_json(&tx, &key, &next, "outbox entry")?;
                    }
                    Ok::<_, crate::EngineError>(())
                }
            })
            .await?;
        Ok(())
    }

    /// Ticks the per-shard delivery actors until the engine is dropped.
    pub(crate) fn start_delivery_worker(&self) {
        let weak = std::sync::Arc::downgrade(&self.inner);
        let every = self.inner.settings.webhook_poll;
        let handle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                let engine = Engine { inner };
                if let Err(error) = engine.inner.actors.tick_outboxes(&engine).await {
                    tracing::warn!(%error, "starting the delivery actors failed");
                }
            }
        });
        self.inner.actors.keep_task(handle);
    }

    /// Delivers an event again, or every event created in `[from, to]` when
    /// `event_id` is `None`. Returns how many were queued.
    pub async fn redeliver(
        &self,
        project_id: &str,
        event_id: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> EngineResult<usize> {
        let now = self.now();
        let (project_id, event_id) = (project_id.to_owned(), event_id.map(str::to_owned));
        let queued = self
            .inner
            .store
            .run(|tx| {
                let (project_id, event_id) = (project_id.clone(), event_id.clone());
                async move {
                    let chosen: Vec<Event> = match &event_id {
                        Some(id) => vec![
                            event::find(&tx, &project_id, id)
                                .await?
                                .ok_or(crate::EngineError::NotFound("event"))?,
                        ],
                        None => {
                            let (from, to) = (from.unwrap_or(Timestamp(0)), to.unwrap_or(now));
                            // A bounded batch per call: large ranges are redelivered in steps.
                            event::list(&tx, &project_id, None, 10_000)
                                .await?
                                .into_iter()
                                .filter(|e| e.created_at >= from && e.created_at <= to)
                                .take(1000)
                                .collect()
                        }
                    };
                    for chosen_event in &chosen {
                        event::requeue(&tx, chosen_event, now).await?;
                    }
                    Ok::<_, crate::EngineError>(chosen.len())
                }
            })
            .await?;
        Ok(queued)
    }

    /// Registers a webhook endpoint for a project.
    pub async fn add_webhook_endpoint(
        &self,
        project_id: &str,
        url: &str,
        events: Option<Vec<String>>,
    ) -> EngineResult<endpoints::Endpoint> {
        endpoints::check_url(url, self.inner.settings.allow_loopback_http)
            .map_err(crate::EngineError::Invalid)?;
        if url.len() > 2048 {
            return Err(crate::EngineError::Invalid("the URL is too long".into()));
        }
        let now = self.now();
        let (project_id, url) = (project_id.to_owned(), url.to_owned());
        self.existing_project(&project_id).await?;
        Ok(self
            .inner
            .store
            .run(|tx| {
                let (p, u, e, vault) =
                    (project_id.clone(), url.clone(), events.clone(), self.inner.vault.clone());
                async move {
                    // Receivers fetch the public keys right after registering.
                    keyring::ensure(&tx, &vault, &p, now).await?;
                    endpoints::create(&tx, &p, &u, e, now)
                }
            })
            .await?)
    }

    /// A project's public signing keys (`whpk_…`), creating the first on first use.
    pub async fn webhook_keys(&self, project_id: &str) -> EngineResult<Vec<keyring::KeyView>> {
        let (vault, now) = (self.inner.vault.clone(), self.now());
        Ok(self
            .inner
            .store
            .run(|tx| {
                let (vault, project_id) = (vault.clone(), project_id.to_owned());
                async move {
                    keyring::ensure(&tx, &vault, &project_id, now).await?;
                    keyring::list(&tx, &project_id).await
                }
            })
            .await?)
    }

    /// Adds a signing key to a project; its old ones keep signing alongside until retired.
    pub async fn rotate_webhook_key(&self, project_id: &str) -> EngineResult<keyring::KeyView> {
        let (vault, now) = (self.inner.vault.clone(), self.now());
        self.existing_project(project_id).await?;
        Ok(self
            .inner
            .store
            .run(|tx| {
                let (vault, project_id) = (vault.clone(), project_id.to_owned());
                async move {
                    keyring::ensure(&tx, &vault, &project_id, now).await?;
                    keyring::add(&tx, &vault, &project_id, now).await
                }
            })
            .await?)
    }

    pub async fn retire_webhook_key(&self, project_id: &str, key_id: &str) -> EngineResult<()> {
        Ok(self
            .inner
            .store
            .run(|tx| {
                let (project_id, id) = (project_id.to_owned(), key_id.to_owned());
                async move { keyring::retire(&tx, &project_id, &id).await }
            })
            .await?)
    }

    async fn existing_project(&self, project_id: &str) -> EngineResult<()> {
        let tx = self.inner.store.begin().await?;
        crate::model::project::get(&tx, project_id).await?.ok_or(crate::EngineError::NotFound("project"))?;
        Ok(())
    }
}
