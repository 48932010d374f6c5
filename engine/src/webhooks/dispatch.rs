//! How many deliveries run at once, and which endpoints may be sent to now.
//!
//! Deliveries run concurrently, at most `MAX_IN_FLIGHT` on this node and at most
//! `PER_ENDPOINT` to one endpoint, so an endpoint that accepts connections and
//! never answers holds a few slots for its timeout and no more. An endpoint that
//! fails `OPEN_AFTER` times in a row has its circuit opened: nothing is sent to
//! it until a backoff passes (2 s, doubling, at most 30 s), then one round
//! probes it again. A success closes it. Only that endpoint waits; the others go on.
//!
//! A shard's project whose due entries all wait on open circuits is *parked*
//! until the first reopens: rounds skip it without reading or rewriting its
//! backlog (in memory only: a restarted node simply probes again).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::util::clock::Timestamp;

pub const MAX_IN_FLIGHT: usize = 64;
pub const PER_ENDPOINT: usize = 8;
const OPEN_AFTER: u32 = 3;
const FIRST_OPEN_MS: i64 = 2_000;
const MAX_OPEN_MS: i64 = 30_000;
/// An entry whose endpoint was at its bound comes back after this, behind what is
/// due meanwhile, so it does not hold the head of its project's queue.
const BUSY_RETRY_MS: i64 = 1_000;
/// Closed, idle gates are forgotten past this many (they hold no state worth keeping).
const MAX_GATES: usize = 10_000;

pub struct Dispatcher {
    overall: Arc<Semaphore>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    gates: HashMap<String, Gate>,
    /// Events being delivered now: a later round leaves them alone.
    in_flight: HashSet<String>,
    /// Shards whose entries from before the due index are indexed, and where the
    /// indexing of the others goes on.
    indexed: HashSet<u32>,
    index_from: HashMap<u32, Vec<u8>>,
    /// The last project each shard's round visited: the next round starts after it.
    round_cursor: HashMap<u32, String>,
    /// (shard, project) → until when its rounds skip it.
    parked: HashMap<(u32, String), Timestamp>,
}

struct Gate {
    permits: Arc<Semaphore>,
    failures: u32,
    open_until: Option<Timestamp>,
}

impl Gate {
    fn new() -> Self {
        Gate { permits: Arc::new(Semaphore::new(PER_ENDPOINT)), failures: 0, open_until: None }
    }

    fn idle(&self) -> bool {
        self.failures == 0 && self.permits.available_permits() == PER_ENDPOINT
    }
}

/// Whether any of a set of endpoints could be sent to now.
pub enum Readiness {
    Ready,
    /// Each is at its bound (or open): wait for a slot.
    Busy,
    /// Each is open: nothing goes before `until`.
    Open {
        until: Timestamp,
    },
}

/// The slots of one delivery under way.
pub struct Ticket {
    pub ready: Vec<String>,
    /// Endpoints owed but not tried this time (open, or at their bound).
    pub untried: Vec<String>,
    /// When to come back for the untried ones: soon if one was only at its bound,
    /// else when the first open one reopens.
    pub untried_due: Option<Timestamp>,
    event_id: String,
    state: Arc<Mutex<State>>,
    /// The node-wide slot, held for the whole delivery.
    _overall: OwnedSemaphorePermit,
    /// Each ready endpoint's slot, handed to its send so that it frees as soon as
    /// that send ends (a slow endpoint beside it must not hold it).
    endpoint_permits: HashMap<String, OwnedSemaphorePermit>,
}

impl Ticket {
    /// The slot of one ready endpoint, to drop when its send ends.
    pub fn take_permit(&mut self, endpoint: &str) -> Option<OwnedSemaphorePermit> {
        self.endpoint_permits.remove(endpoint)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.state).in_flight.remove(&self.event_id);
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for Dispatcher {
    fn default() -> Self {
        Dispatcher { overall: Arc::new(Semaphore::new(MAX_IN_FLIGHT)), state: Arc::default() }
    }
}

impl Dispatcher {
    /// Takes the slots to deliver `event_id` to the endpoints it `owes`, holding
    /// them in the ticket until it is dropped; `None` when no endpoint has a slot
    /// (full or open: `readiness` says which), the node is at its bound, or the
    /// event is already on its way.
    pub fn admit(&self, event_id: &str, owes: &[String], now: Timestamp) -> Option<Ticket> {
        let mut state = lock(&self.state);
        if state.in_flight.contains(event_id) {
            return None;
        }
        let overall = self.overall.clone().try_acquire_owned().ok()?;
        let (mut ready, mut untried, mut permits) = (Vec::new(), Vec::new(), HashMap::new());
        let mut earliest_open: Option<Timestamp> = None;
        let mut any_busy = false;
        if state.gates.len() > MAX_GATES {
            state.gates.retain(|_, gate| !gate.idle());
        }
        for endpoint in owes {
            let gate = state.gates.entry(endpoint.clone()).or_insert_with(Gate::new);
            match gate.open_until {
                Some(until) if until > now => {
                    earliest_open = Some(earliest_open.map_or(until, |e| e.min(until)));
                    untried.push(endpoint.clone());
                    continue;
                }
                _ => {}
            }
            match gate.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    permits.insert(endpoint.clone(), permit);
                    ready.push(endpoint.clone());
                }
                Err(_) => {
                    any_busy = true;
                    untried.push(endpoint.clone());
                }
            }
        }
        if ready.is_empty() && !owes.is_empty() {
            return None;
        }
        state.in_flight.insert(event_id.to_owned());
        let untried_due = match (any_busy, earliest_open) {
            (true, _) => Some(now.plus_millis(BUSY_RETRY_MS)),
            (false, open) => open,
        };
        Some(Ticket {
            ready,
            untried,
            untried_due,
            event_id: event_id.to_owned(),
            state: self.state.clone(),
            _overall: overall,
            endpoint_permits: permits,
        })
    }

    /// Whether any of `endpoints` could take a delivery now: a round asks before it
    /// loads an entry, so a backlog waiting on full or open endpoints costs it nothing.
    pub fn readiness(&self, endpoints: &[String], now: Timestamp) -> Readiness {
        let state = lock(&self.state);
        let mut earliest_open: Option<Timestamp> = None;
        let mut busy = false;
        for endpoint in endpoints {
            let Some(gate) = state.gates.get(endpoint) else { return Readiness::Ready };
            match gate.open_until {
                Some(until) if until > now => {
                    earliest_open = Some(earliest_open.map_or(until, |e| e.min(until)))
                }
                _ if gate.permits.available_permits() > 0 => return Readiness::Ready,
                _ => busy = true,
            }
        }
        match (busy, earliest_open) {
            (false, Some(until)) => Readiness::Open { until },
            (true, _) => Readiness::Busy,
            (false, None) => Readiness::Ready,
        }
    }

    /// Skips `project` in `shard`'s rounds until `until`.
    pub fn park(&self, shard: u32, project: &str, until: Timestamp) {
        lock(&self.state).parked.insert((shard, project.to_owned()), until);
    }

    /// Whether `project` is parked in `shard` at `now` (forgetting it once it is not).
    pub fn parked(&self, shard: u32, project: &str, now: Timestamp) -> bool {
        let mut state = lock(&self.state);
        let key = (shard, project.to_owned());
        match state.parked.get(&key) {
            Some(until) if *until > now => true,
            Some(_) => {
                state.parked.remove(&key);
                false
            }
            None => false,
        }
    }

    /// Where indexing a shard's older entries goes on (`Some(None)`: from the
    /// start), or `None` once it is done.
    pub fn index_progress(&self, shard: u32) -> Option<Option<Vec<u8>>> {
        let state = lock(&self.state);
        (!state.indexed.contains(&shard)).then(|| state.index_from.get(&shard).cloned())
    }

    /// Records how far indexing got (`None`: done).
    pub fn indexed_up_to(&self, shard: u32, next: Option<Vec<u8>>) {
        let mut state = lock(&self.state);
        match next {
            Some(key) => {
                state.index_from.insert(shard, key);
            }
            None => {
                state.index_from.remove(&shard);
                state.indexed.insert(shard);
            }
        }
    }

    pub fn round_cursor(&self, shard: u32) -> Option<String> {
        lock(&self.state).round_cursor.get(&shard).cloned()
    }

    pub fn set_round_cursor(&self, shard: u32, last: Option<String>) {
        let mut state = lock(&self.state);
        match last {
            Some(project) => state.round_cursor.insert(shard, project),
            None => state.round_cursor.remove(&shard),
        };
    }

    /// Notes how an attempt at `endpoint` went: successes close its circuit,
    /// failures in a row open it for longer each time.
    pub fn outcome(&self, endpoint: &str, delivered: bool, now: Timestamp) {
        let mut state = lock(&self.state);
        let gate = state.gates.entry(endpoint.to_owned()).or_insert_with(Gate::new);
        if delivered {
            gate.failures = 0;
            gate.open_until = None;
            return;
        }
        gate.failures = gate.failures.saturating_add(1);
        if gate.failures >= OPEN_AFTER {
            let doublings = (gate.failures - OPEN_AFTER).min(16);
            let open_ms = (FIRST_OPEN_MS << doublings).min(MAX_OPEN_MS);
            gate.open_until = Some(now.plus_millis(open_ms));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_000_000);

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_endpoint_gets_at_most_its_bound_and_others_go_on() {
        let dispatcher = Dispatcher::default();
        let held: Vec<Ticket> = (0..PER_ENDPOINT)
            .map(|n| dispatcher.admit(&format!("evt_{n}"), &ids(&["slow"]), NOW).expect("a free slot"))
            .collect();
        assert!(dispatcher.admit("evt_more", &ids(&["slow"]), NOW).is_none());
        assert!(dispatcher.admit("evt_other", &ids(&["fast"]), NOW).is_some());
        assert!(dispatcher.admit("evt_0", &ids(&["fast"]), NOW).is_none(), "in flight already");
        drop(held);
        assert!(dispatcher.admit("evt_more", &ids(&["slow"]), NOW).is_some());
    }

    #[test]
    fn failures_in_a_row_open_the_circuit_and_a_success_closes_it() {
        let dispatcher = Dispatcher::default();
        for _ in 0..OPEN_AFTER {
            dispatcher.outcome("dead", false, NOW);
        }
        assert!(dispatcher.admit("evt_1", &ids(&["dead"]), NOW).is_none(), "the circuit is open");
        match dispatcher.readiness(&ids(&["dead"]), NOW) {
            Readiness::Open { until } => assert_eq!(until, NOW.plus_millis(FIRST_OPEN_MS)),
            _ => panic!("the circuit is open"),
        }
        // Mixed: the healthy endpoint is sent to, the open one waits untried.
        let ticket =
            dispatcher.admit("evt_2", &ids(&["dead", "alive"]), NOW).expect("the live endpoint goes");
        assert_eq!((ticket.ready.clone(), ticket.untried.clone()), (ids(&["alive"]), ids(&["dead"])));
        let later = NOW.plus_millis(FIRST_OPEN_MS);
        assert!(dispatcher.admit("evt_3", &ids(&["dead"]), later).is_some(), "probed again");
        dispatcher.outcome("dead", false, later);
        assert!(dispatcher.admit("evt_4", &ids(&["dead"]), later).is_none());
        match dispatcher.readiness(&ids(&["dead"]), later) {
            Readiness::Open { until } => {
                assert_eq!(until, later.plus_millis(2 * FIRST_OPEN_MS), "longer each time")
            }
            _ => panic!("open again"),
        }
        dispatcher.outcome("dead", true, later);
        assert!(dispatcher.admit("evt_5", &ids(&["dead"]), later).is_some());
    }

    #[test]
    fn a_parked_project_is_skipped_until_its_time_then_forgotten() {
        let dispatcher = Dispatcher::default();
        dispatcher.park(3, "prj_a", NOW.plus_millis(1000));
        assert!(dispatcher.parked(3, "prj_a", NOW));
        assert!(!dispatcher.parked(4, "prj_a", NOW), "per shard");
        assert!(!dispatcher.parked(3, "prj_b", NOW));
        assert!(!dispatcher.parked(3, "prj_a", NOW.plus_millis(1000)));
        assert!(lock(&dispatcher.state).parked.is_empty());
    }

    #[test]
    fn readiness_says_whether_any_endpoint_could_take_a_delivery() {
        let dispatcher = Dispatcher::default();
        assert!(matches!(dispatcher.readiness(&ids(&["new"]), NOW), Readiness::Ready));
        let _held: Vec<Option<Ticket>> =
            (0..PER_ENDPOINT).map(|n| dispatcher.admit(&format!("evt_{n}"), &ids(&["full"]), NOW)).collect();
        assert!(matches!(dispatcher.readiness(&ids(&["full"]), NOW), Readiness::Busy));
        for _ in 0..OPEN_AFTER {
            dispatcher.outcome("dead", false, NOW);
        }
        assert!(matches!(dispatcher.readiness(&ids(&["dead"]), NOW), Readiness::Open { .. }));
        assert!(matches!(dispatcher.readiness(&ids(&["dead", "full"]), NOW), Readiness::Busy));
        assert!(matches!(dispatcher.readiness(&ids(&["dead", "full", "new"]), NOW), Readiness::Ready));
    }
}
