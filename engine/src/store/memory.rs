//! The in-memory backend for tests and examples. Snapshots are persistent maps
//! (cheap clones), and commits go through the same optimistic resolver as redb, so
//! conflicts and retries really happen.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use imbl::OrdMap;

use super::backend::{Backend, Commit, KeyRange, Mutation, Snapshot, add_le};
use super::open_reads::{OpenRead, OpenReads};
use super::resolver::Resolver;
use super::{KeyValue, StoreError};

type Map = OrdMap<Vec<u8>, Vec<u8>>;

#[derive(Default)]
struct State {
    data: Map,
    version: u64,
    resolver: Resolver,
}

/// See the module documentation.
#[derive(Default, Clone)]
pub struct MemoryBackend {
    state: Arc<Mutex<State>>,
    open_reads: Arc<OpenReads>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }
}

fn lock(state: &Mutex<State>) -> Result<MutexGuard<'_, State>, StoreError> {
    state.lock().map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        let state = lock(&self.state)?;
        let (open, data) = self.open_reads.open(|| Ok((state.version, state.data.clone())))?;
        Ok(Box::new(MemorySnapshot { data, state: self.state.clone(), open }))
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn version(&self) -> Option<u64> {
        lock(&self.state).ok().map(|state| state.version)
    }
}

struct MemorySnapshot {
    data: Map,
    state: Arc<Mutex<State>>,
    /// Its read version; while it is open the resolver keeps the writes it could
    /// conflict with.
    open: OpenRead,
}

/// Applies committed mutations to a map; shared with nothing else because redb
/// applies them to its own tables.
fn apply(data: &mut Map, mutations: Vec<Mutation>) {
    for mutation in mutations {
        match mutation {
            Mutation::Set { key, value } => {
                data.insert(key, value);
            }
            Mutation::Clear { key } => {
                data.remove(&key);
            }
            Mutation::ClearRange(range) => {
                let doomed: Vec<Vec<u8>> =
                    data.range(range.begin..range.end).map(|(key, _)| key.clone()).collect();
                for key in doomed {
                    data.remove(&key);
                }
            }
            Mutation::Add { key, delta } => {
                let value = add_le(data.get(&key).map(Vec::as_slice), delta);
                data.insert(key, value);
            }
        }
    }
}

#[async_trait]
impl Snapshot for MemorySnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.data.get(key).cloned())
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let pairs = self.data.range(range.begin.clone()..range.end.clone());
        let to_pair =
            |(key, value): (&Vec<u8>, &Vec<u8>)| KeyValue { key: key.clone(), value: value.clone() };
        Ok(if reverse {
            pairs.rev().take(limit).map(to_pair).collect()
        } else {
            pairs.take(limit).map(to_pair).collect()
        })
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut state = lock(&self.state)?;
        state.resolver.check(self.open.version(), &commit.reads)?;
        let (current, version) = (state.version, state.version + 1);
        let horizon = || self.open.horizon(|| current).unwrap_or(0);
        state.resolver.record(version, &commit.mutations, horizon);
        apply(&mut state.data, commit.mutations);
        state.version = version;
        Ok(())
    }

    fn version(&self) -> Option<u64> {
        Some(self.open.version())
    }
}
