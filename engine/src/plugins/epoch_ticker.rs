//! The clock of the plugins' CPU budget: wasmtime interrupts a call when the
//! engine's epoch passes its deadline, and this thread advances the epoch every
//! `EPOCH_TICK` — while a call runs. With none running it sleeps until one starts,
//! so an idle server (or one busy only proxying) is not woken 200 times a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How often the epoch advances; the CPU budget is checked at this granularity.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Shared {
    calls: AtomicUsize,
    stopped: AtomicBool,
    ticks: AtomicU64,
}

/// Stops its thread when dropped.
pub(super) struct EpochTicker {
    shared: Arc<Shared>,
    thread: Option<std::thread::Thread>,
}

/// A call in progress: the epoch advances until this is dropped.
pub(super) struct Running<'a>(&'a EpochTicker);

impl EpochTicker {
    pub fn start(engine: &wasmtime::Engine) -> EpochTicker {
        let shared = Arc::new(Shared::default());
        let (weak, state) = (engine.weak(), shared.clone());
        let thread = std::thread::Builder::new().name("securix-plugin-epoch".into()).spawn(move || {
            while !state.stopped.load(Ordering::Acquire) {
                if state.calls.load(Ordering::Acquire) == 0 {
                    // A call that starts now unparks this, before or after it parks.
                    std::thread::park();
                    continue;
                }
                let Some(engine) = weak.upgrade() else { break };
                engine.increment_epoch();
                state.ticks.fetch_add(1, Ordering::Relaxed);
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
        if let Err(error) = &thread {
            tracing::error!(%error, "cannot start the plugins' epoch ticker: their CPU budget goes unchecked");
        }
        EpochTicker { shared, thread: thread.ok().map(|handle| handle.thread().clone()) }
    }

    /// Marks a call as running until the returned guard is dropped.
    pub fn running(&self) -> Running<'_> {
        if self.shared.calls.fetch_add(1, Ordering::AcqRel) == 0
            && let Some(thread) = &self.thread
        {
            thread.unpark();
        }
        Running(self)
    }

    #[cfg(test)]
    fn ticks(&self) -> u64 {
        self.shared.ticks.load(Ordering::Relaxed)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.shared.calls.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        if let Some(thread) = &self.thread {
            thread.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::EpochTicker;

    #[test]
    fn the_epoch_advances_only_while_a_call_runs() {
        let engine = wasmtime::Engine::default();
        let ticker = EpochTicker::start(&engine);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ticker.ticks(), 0, "no call, no tick");
        let running = ticker.running();
        std::thread::sleep(Duration::from_millis(100));
        assert!(ticker.ticks() >= 3, "{} ticks in 100 ms of a call", ticker.ticks());
        drop(running);
        std::thread::sleep(Duration::from_millis(20));
        let after = ticker.ticks();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ticker.ticks(), after, "the call ended, so did the ticks");
    }
}
