//! The delivery rounds: each tick, the due entries of the shards this node owns
//! (oldest first, a bounded number per project) go out concurrently within the
//! dispatcher's bounds, and a round never waits for a slow endpoint. At least
//! once: an outbox entry leaves only when every endpoint it owes took it (2xx);
//! every attempt carries the same `webhook-id` with a fresh timestamp and
//! signature; failures wait per the schedule (with jitter, or the receiver's
//! `Retry-After` when longer); 410 disables the endpoint; an endpoint failing past
//! the schedule's end is disabled and an `endpoint.disabled` event says so.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Uri};
use rand::Rng;

use super::dispatch::{Readiness, Ticket};
use super::{Webhooks, deliveries, endpoints, keyring, signing};
use crate::actors::ShardDispatcher;
use crate::error::EngineResult;
use crate::model::event::{self, Event, EventDraft, EventKind, OutboxEntry};
use crate::model::keys::SHARDS;
use crate::model::outbox;
use crate::util::clock::{Rfc3339, Timestamp};

/// When to try again after the n-th failure: about a day in all.
pub fn default_schedule() -> Vec<Duration> {
    [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000].into_iter().map(Duration::from_secs).collect()
}

/// What one delivery round loads once per project.
struct Round {
    signing_keys: HashMap<String, Vec<ed25519_dalek::SigningKey>>,
    endpoints: HashMap<String, Vec<endpoints::Endpoint>>,
}

/// One entry on its way: the event, the endpoints it owes, the keys to sign with.
struct Delivery {
    entry: OutboxEntry,
    event: Event,
    owed: Vec<endpoints::Endpoint>,
    signing_keys: Vec<ed25519_dalek::SigningKey>,
}

/// What a delivery came to, per endpoint id.
#[derive(Default)]
struct Outcome {
    failed: Vec<String>,
    gone: Vec<String>,
    untried: Vec<String>,
    /// When the untried ones are due again.
    untried_due: Option<Timestamp>,
    /// The longest `Retry-After` a failed endpoint asked for.
    retry_after: Option<Duration>,
    /// What each tried endpoint answered, for the delivery log.
    tried: Vec<(String, Tried)>,
}

/// One attempt as the delivery log keeps it.
#[derive(Debug, Clone, Default)]
struct Tried {
    response_status: Option<u16>,
    error: Option<String>,
    latency_ms: u64,
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

/// A delivery's URI and headers; `None` for a URL no request can go to.
fn signed_request(
    url: &str,
    event_id: &str,
    timestamp: i64,
    signatures: &[String],
) -> Option<(Uri, HeaderMap)> {
    let uri: Uri = url.parse().ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static("SecuriX-Webhooks"));
    headers.insert("webhook-id", HeaderValue::from_str(event_id).ok()?);
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    headers.insert("webhook-signature", HeaderValue::from_str(&signatures.join(" ")).ok()?);
    Some((uri, headers))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(|secs| Duration::from_secs(secs.min(86_400)))
}

/// Due entries read per project in one round: a project's backlog never fills a
/// round on its own.
const PER_PROJECT: usize = 16;
/// Projects visited per shard in one round.
const PROJECTS_PER_ROUND: usize = 256;

impl Webhooks {
    /// Delivers every outbox entry that is due, on the shards this node owns, and
    /// waits for those deliveries (tests and tools; the worker does not wait).
    pub async fn deliver_due_webhooks(self: &Arc<Self>) -> EngineResult<usize> {
        let mut started = Vec::new();
        for shard in (0..SHARDS).filter(|s| self.placement.owns(*s)) {
            started.extend(self.start_deliveries(shard).await?);
        }
        let mut delivered = 0;
        for handle in started {
            if let Ok(Ok(true)) = handle.await {
                delivered += 1;
            }
        }
        Ok(delivered)
    }

    /// Starts the deliveries of one shard that are due and have a free slot (what
    /// its actor runs each tick); returns at once with their tasks.
    async fn start_deliveries(
        self: &Arc<Self>,
        shard: u32,
    ) -> EngineResult<Vec<tokio::task::JoinHandle<EngineResult<bool>>>> {
        self.index_older_outbox(shard).await;
        let now = self.now();
        let dispatcher = &self.dispatcher;
        let tx = self.store.begin().await?;
        let cursor = dispatcher.round_cursor(shard);
        let (entries, last) =
            outbox::due(&tx, shard, now, PER_PROJECT, PROJECTS_PER_ROUND, cursor.as_deref(), |project| {
                dispatcher.parked(shard, project, now)
            })
            .await?;
        drop(tx);
        dispatcher.set_round_cursor(shard, last);
        let mut round = Round { signing_keys: HashMap::new(), endpoints: HashMap::new() };
        let mut started = Vec::new();
        // Endpoints found at their bound this round: entries owing only these wait
        // without being loaded.
        let mut full: HashSet<String> = HashSet::new();
        for entry in entries {
            let (candidates, everything) = self.candidates(&entry, &mut round).await?;
            if !candidates.is_empty() && candidates.iter().all(|id| full.contains(id)) {
                continue;
            }
            match dispatcher.readiness(&candidates, now) {
                Readiness::Ready => {}
                Readiness::Busy => {
                    full.extend(candidates);
                    continue;
                }
                Readiness::Open { until } => {
                    if everything {
                        // Every endpoint of the project is open: skip it until the first reopens.
                        dispatcher.park(shard, &entry.project_id, until);
                    } else {
                        // Others of the project are fine: move this one out of their way.
                        self.defer(shard, &entry, until).await?;
                    }
                    continue;
                }
            }
            let Some(delivery) = self.prepare(shard, entry, &mut round).await? else { continue };
            let owes: Vec<String> = delivery.owed.iter().map(|e| e.id.clone()).collect();
            if let Some(ticket) = dispatcher.admit(&delivery.entry.event_id, &owes, now) {
                let webhooks = self.clone();
                started.push(tokio::spawn(async move { webhooks.deliver(shard, delivery, ticket).await }));
            }
        }
        Ok(started)
    }

    /// Indexes a shard's entries from before the due index, a batch a round; a
    /// failure is logged and the round goes on (what is indexed is delivered).
    async fn index_older_outbox(&self, shard: u32) {
        let Some(from) = self.dispatcher.index_progress(shard) else { return };
        let indexed = self
            .store
            .run(|tx| {
                let from = from.clone();
                async move { outbox::index_older_entries(&tx, shard, from, 500).await }
            })
            .await;
        match indexed {
            Ok(next) => self.dispatcher.indexed_up_to(shard, next),
            Err(error) => {
                tracing::warn!(shard, %error, "indexing older outbox entries failed; retried next round")
            }
        }
    }

    /// The endpoints `entry` may owe, before its event is loaded (those it still
    /// owes, or every enabled endpoint of its project), and whether that is every
    /// enabled endpoint of the project.
    async fn candidates(&self, entry: &OutboxEntry, round: &mut Round) -> EngineResult<(Vec<String>, bool)> {
        let project = &entry.project_id;
        if !round.endpoints.contains_key(project) {
            let tx = self.store.begin().await?;
            round.endpoints.insert(project.clone(), endpoints::list(&tx, project).await?);
        }
        let enabled: Vec<String> = round
            .endpoints
            .get(project)
            .into_iter()
            .flatten()
            .filter(|e| e.enabled)
            .map(|e| e.id.clone())
            .collect();
        Ok(match &entry.remaining_endpoints {
            Some(ids) => (ids.clone(), enabled.iter().all(|id| ids.contains(id))),
            None => (enabled, true),
        })
    }

    /// Loads what delivering `entry` needs; `None` when nothing is owed any more
    /// (its event is gone, or no endpoint wants it), and then the entry is cleared.
    async fn prepare(
        &self,
        shard: u32,
        entry: OutboxEntry,
        round: &mut Round,
    ) -> EngineResult<Option<Delivery>> {
        let tx = self.store.begin().await?;
        let Some(event) = event::get(&tx, &entry.project_id, entry.seq).await? else {
            drop(tx);
            self.clear_outbox(shard, &entry.event_id).await?;
            return Ok(None);
        };
        let project = entry.project_id.clone();
        if !round.endpoints.contains_key(&project) {
            round.endpoints.insert(project.clone(), endpoints::list(&tx, &project).await?);
        }
        if !round.signing_keys.contains_key(&project) {
            let mut keys = keyring::signing_keys(&tx, &self.vault, &project).await?;
            if keys.is_empty() {
                // Never send unsigned: make the first key, as `GET /v1/webhooks/keys` would.
                self.webhook_keys(&project).await?;
                keys = keyring::signing_keys(&self.store.begin().await?, &self.vault, &project).await?;
            }
            round.signing_keys.insert(project.clone(), keys);
        }
        drop(tx);
        let kind = serde_json::to_value(event.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let owed: Vec<endpoints::Endpoint> = round
            .endpoints
            .get(&project)
            .into_iter()
            .flatten()
            .filter(|e| {
                e.wants(&kind) && entry.remaining_endpoints.as_ref().is_none_or(|ids| ids.contains(&e.id))
            })
            .cloned()
            .collect();
        if owed.is_empty() {
            self.clear_outbox(shard, &entry.event_id).await?;
            return Ok(None);
        }
        let signing_keys = round.signing_keys.get(&project).cloned().unwrap_or_default();
        Ok(Some(Delivery { entry, event, owed, signing_keys }))
    }

    #[tracing::instrument(name = "webhook.send", skip_all, fields(event = %event.id))]
    async fn send_once(
        &self,
        url: &str,
        event: &Event,
        body: &[u8],
        signing_keys: &[ed25519_dalek::SigningKey],
    ) -> (Attempt, Tried) {
        // What the URL says; where its name points is checked by the client's
        // resolver at each connection. A refusal is the operator's policy, which
        // may change back: a retry, not a 410 that disables the endpoint.
        if let Err(refused) = endpoints::check_url(url, &self.outbound) {
            let tried = Tried { error: Some(deliveries::error_text(&refused)), ..Tried::default() };
            return (Attempt::Retry { after: None }, tried);
        }
        let timestamp = self.now().0 / 1000;
        let signatures: Vec<String> =
            signing_keys.iter().map(|key| signing::sign(key, &event.id, timestamp, body)).collect();
        let Some(request) = signed_request(url, &event.id, timestamp, &signatures) else {
            let tried = Tried { error: Some("the URL cannot be requested".into()), ..Tried::default() };
            return (Attempt::Retry { after: None }, tried);
        };
        let (uri, headers) = request;
        let timeout = self.settings.timeout;
        let started = std::time::Instant::now();
        // The receiver's answer matters by its status alone: a little of it is read.
        let sent = self.http.fetch(Method::POST, uri, headers, body.to_vec().into(), timeout, 4096).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let tried = |response_status, error| Tried { response_status, error, latency_ms };
        match sent {
            Ok((status, ..)) if (200..300).contains(&status) => {
                (Attempt::Delivered, tried(Some(status), None))
            }
            Ok((410, ..)) => (Attempt::Gone, tried(Some(410), None)),
            Ok((status, headers, _)) => {
                (Attempt::Retry { after: retry_after(&headers) }, tried(Some(status), None))
            }
            Err(error) => (
                Attempt::Retry { after: None },
                tried(None, Some(deliveries::error_text(&error.to_string()))),
            ),
        }
    }

    /// Sends to the endpoints the ticket cleared, all at once, then records the outcome.
    async fn deliver(&self, shard: u32, delivery: Delivery, mut ticket: Ticket) -> EngineResult<bool> {
        // The round read the entry before the ticket: a delivery that finished
        // meanwhile may have cleared or moved it. Send only what is still owed.
        let tx = self.store.begin().await?;
        let current = outbox::get(&tx, shard, &delivery.entry.event_id).await?;
        drop(tx);
        if current.as_ref() != Some(&delivery.entry) {
            return Ok(false);
        }
        let body = payload(&delivery.event);
        let ready: Vec<&endpoints::Endpoint> =
            delivery.owed.iter().filter(|e| ticket.ready.contains(&e.id)).collect();
        let sends = ready.iter().map(|e| {
            let permit = ticket.take_permit(&e.id);
            let send = self.send_once(&e.url, &delivery.event, &body, &delivery.signing_keys);
            async move {
                let attempt = send.await;
                drop(permit);
                attempt
            }
        });
        let attempts = futures_util::future::join_all(sends).await;
        let now = self.now();
        let mut outcome = Outcome {
            untried: ticket.untried.clone(),
            untried_due: ticket.untried_due,
            ..Outcome::default()
        };
        for (endpoint, (attempt, tried)) in ready.iter().zip(attempts) {
            outcome.tried.push((endpoint.id.clone(), tried));
            self.dispatcher.outcome(&endpoint.id, matches!(attempt, Attempt::Delivered), now);
            match attempt {
                Attempt::Delivered => {}
                Attempt::Gone => outcome.gone.push(endpoint.id.clone()),
                Attempt::Retry { after } => {
                    outcome.failed.push(endpoint.id.clone());
                    outcome.retry_after = outcome.retry_after.max(after);
                }
            }
        }
        let delivered = outcome.failed.is_empty() && outcome.untried.is_empty();
        let tried: Vec<endpoints::Endpoint> = ready.into_iter().cloned().collect();
        self.record_attempt(shard, delivery.entry, &tried, outcome).await?;
        drop(ticket);
        Ok(delivered)
    }

    async fn clear_outbox(&self, shard: u32, event_id: &str) -> EngineResult<()> {
        let placement = &self.placement;
        self.store
            .run(|tx| async move {
                placement.fence(&tx, shard).await?;
                Ok::<_, crate::EngineError>(outbox::clear(&tx, shard, event_id).await?)
            })
            .await
    }

    /// Moves an entry that waits on open endpoints to when the first reopens (no
    /// attempt was made, so none is counted), unless it changed meanwhile.
    async fn defer(&self, shard: u32, entry: &OutboxEntry, until: Timestamp) -> EngineResult<()> {
        let placement = &self.placement;
        self.store
            .run(|tx| async move {
                placement.fence(&tx, shard).await?;
                if outbox::get(&tx, shard, &entry.event_id).await?.as_ref() == Some(entry) {
                    outbox::put(&tx, shard, &OutboxEntry { due_at: until, ..entry.clone() }).await?;
                }
                Ok::<_, crate::EngineError>(())
            })
            .await
    }

    /// Records what one delivery came to: endpoints that took it are done; failed
    /// ones wait per the schedule; untried ones come back when their slot or their
    /// circuit may let them; an attempt counts only when one failed.
    async fn record_attempt(
        &self,
        shard: u32,
        entry: OutboxEntry,
        owed: &[endpoints::Endpoint],
        outcome: Outcome,
    ) -> EngineResult<()> {
        let Outcome { failed, gone, untried, untried_due, retry_after, tried } = outcome;
        let now = self.now();
        let schedule = &self.settings.schedule;
        let attempts = if failed.is_empty() { entry.attempts } else { entry.attempts + 1 };
        let exhausted = attempts as usize >= schedule.len().max(1);
        let wait = schedule.get(attempts as usize).copied().unwrap_or_default();
        let jitter =
            if wait.is_zero() { 0 } else { rand::thread_rng().gen_range(0..=wait.as_millis() as i64 / 10) };
        let wait_ms = (wait.as_millis() as i64 + jitter).max(retry_after.map_or(0, |d| d.as_millis() as i64));
        let owed = owed.to_vec();
        let placement = &self.placement;
        self.store
            .run(|tx| {
                let (entry, failed, gone, owed, untried, tried) = (
                    entry.clone(),
                    failed.clone(),
                    gone.clone(),
                    owed.clone(),
                    untried.clone(),
                    tried.clone(),
                );
                async move {
                    placement.fence(&tx, shard).await?;
                    // Changed since it was sent (redelivered, say): the newer entry stands.
                    if outbox::get(&tx, shard, &entry.event_id).await?.as_ref() != Some(&entry) {
                        return Ok(());
                    }
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
                    let retry_at = (!failed.is_empty() && !exhausted).then(|| now.plus_millis(wait_ms));
                    for (endpoint_id, attempt) in tried {
                        let status = match (failed.contains(&endpoint_id), gone.contains(&endpoint_id)) {
                            (false, false) => deliveries::DeliveryStatus::Delivered,
                            (true, false) if !exhausted => deliveries::DeliveryStatus::Pending,
                            _ => deliveries::DeliveryStatus::Failed,
                        };
                        let next_attempt_at =
                            (status == deliveries::DeliveryStatus::Pending).then_some(retry_at).flatten();
                        deliveries::append(
                            &tx,
                            deliveries::DeliveryRecord {
                                id: String::new(),
                                project_id: entry.project_id.clone(),
                                event_id: entry.event_id.clone(),
                                endpoint_id,
                                attempt: entry.attempts + 1,
                                status,
                                response_status: attempt.response_status,
                                error: attempt.error,
                                latency_ms: attempt.latency_ms,
                                at: now,
                                next_attempt_at,
                            },
                        )?;
                    }
                    if (failed.is_empty() && untried.is_empty()) || exhausted {
                        outbox::clear(&tx, shard, &entry.event_id).await?;
                    } else {
                        // One due time for the entry: an untried endpoint must not wait
                        // out a failed one's schedule (5 minutes and more).
                        let retry = now.plus_millis(wait_ms);
                        let due_at = match (failed.is_empty(), untried.is_empty()) {
                            (true, _) => untried_due.unwrap_or(now),
                            (false, true) => retry,
                            (false, false) => retry.min(untried_due.unwrap_or(now)),
                        };
                        let remaining = failed.into_iter().chain(untried).collect();
                        let next =
                            OutboxEntry { attempts, due_at, remaining_endpoints: Some(remaining), ..entry };
                        outbox::put(&tx, shard, &next).await?;
                    }
                    Ok::<_, crate::EngineError>(())
                }
            })
            .await?;
        Ok(())
    }

    /// Ticks the delivery actor of every shard this node owns (starting any that is
    /// not running), every `poll`, until the room is dropped.
    pub fn start_worker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = self.settings.poll;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(webhooks) = weak.upgrade() else { return };
                for shard in (0..SHARDS).filter(|s| webhooks.placement.owns(*s)) {
                    if let Err(error) = webhooks.outboxes.tick(shard).await {
                        tracing::warn!(%error, "starting the delivery actors failed");
                        break;
                    }
                }
            }
        })
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
        endpoints::check_url(url, &self.outbound).map_err(crate::EngineError::Invalid)?;
        if url.len() > 2048 {
            return Err(crate::EngineError::Invalid("the URL is too long".into()));
        }
        let now = self.now();
        let (project_id, url) = (project_id.to_owned(), url.to_owned());
        self.existing_project(&project_id).await?;
        Ok(self
            .store
            .run(|tx| {
                let (p, u, e, vault) = (project_id.clone(), url.clone(), events.clone(), self.vault.clone());
                async move {
                    // Receivers fetch the public keys right after registering.
                    keyring::ensure(&tx, &vault, &p, now).await?;
                    endpoints::create(&tx, &p, &u, e, now)
                }
            })
            .await?)
    }

    pub async fn list_webhook_endpoints(
        &self,
        project_id: &str,
        request: &crate::model::page::PageRequest,
    ) -> EngineResult<crate::model::page::Page<endpoints::Endpoint>> {
        self.existing_project(project_id).await?;
        let tx = self.store.begin().await?;
        Ok(endpoints::list_page(&tx, project_id, request).await?)
    }

    pub async fn webhook_endpoint(
        &self,
        project_id: &str,
        endpoint_id: &str,
    ) -> EngineResult<endpoints::Endpoint> {
        self.existing_project(project_id).await?;
        let tx = self.store.begin().await?;
        endpoints::get(&tx, project_id, endpoint_id)
            .await?
            .ok_or(crate::EngineError::NotFound("webhook endpoint"))
    }

    pub async fn delete_webhook_endpoint(&self, project_id: &str, endpoint_id: &str) -> EngineResult<()> {
        self.existing_project(project_id).await?;
        let (project_id, endpoint_id) = (project_id.to_owned(), endpoint_id.to_owned());
        Ok(self
            .store
            .run(|tx| {
                let (p, e) = (project_id.clone(), endpoint_id.clone());
                async move { endpoints::delete(&tx, &p, &e).await }
            })
            .await?)
    }

    /// The project's delivery log, newest first.
    pub async fn list_deliveries(
        &self,
        project_id: &str,
        filter: &deliveries::DeliveryFilter,
        request: &crate::model::page::PageRequest,
    ) -> EngineResult<crate::model::page::Page<deliveries::DeliveryView>> {
        self.existing_project(project_id).await?;
        let tx = self.store.begin().await?;
        Ok(deliveries::list(&tx, project_id, filter, request).await?.map(deliveries::DeliveryView::from))
    }

    /// Owes a logged delivery's event to its endpoint again, due now: the next
    /// delivery round sends it.
    pub async fn retry_delivery(&self, project_id: &str, delivery_id: &str) -> EngineResult<()> {
        self.existing_project(project_id).await?;
        let now = self.now();
        self.store
            .run(|tx| async move {
                let record = deliveries::get(&tx, project_id, delivery_id)
                    .await?
                    .ok_or(crate::EngineError::NotFound("webhook delivery"))?;
                deliveries::retry(&tx, &record, now).await?;
                Ok::<_, crate::EngineError>(())
            })
            .await?;
        Ok(())
    }

    /// A project's public signing keys (`whpk_…`), creating the first on first use.
    pub async fn webhook_keys(&self, project_id: &str) -> EngineResult<Vec<keyring::KeyView>> {
        let (vault, now) = (self.vault.clone(), self.now());
        Ok(self
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
        let (vault, now) = (self.vault.clone(), self.now());
        self.existing_project(project_id).await?;
        Ok(self
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
            .store
            .run(|tx| {
                let (project_id, id) = (project_id.to_owned(), key_id.to_owned());
                async move { keyring::retire(&tx, &project_id, &id).await }
            })
            .await?)
    }

    async fn existing_project(&self, project_id: &str) -> EngineResult<()> {
        let tx = self.store.begin().await?;
        crate::model::project::get(&tx, project_id).await?.ok_or(crate::EngineError::NotFound("project"))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ShardDispatcher for Webhooks {
    async fn dispatch_shard(self: Arc<Self>, shard: u32) -> EngineResult<()> {
        if self.placement.owns(shard) {
            self.start_deliveries(shard).await?;
        }
        Ok(())
    }
}
