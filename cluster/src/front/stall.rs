//! A timer for an operation that may stop making progress: armed when it starts
//! waiting, disarmed when it makes progress, so an operation that never waits
//! (the common case) never sets one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

pub struct Stall {
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Stall {
    pub fn after(limit: Duration) -> Self {
        Stall { limit, timer: None }
    }

    /// The operation made progress: the next wait starts afresh.
    pub fn progressed(&mut self) {
        self.timer = None;
    }

    /// The operation waits: ready once it has waited `limit` since it started.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let limit = self.limit;
        self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit))).as_mut().poll(cx)
    }
}
