//! A project's last day at a glance, hour by hour, for the console's charts: calls
//! through the proxy and their errors, in all and per integration (the audit index), webhook attempts delivered and failed (the
//! delivery log) and token renewals (`connection.refreshed` events). Each source is
//! read newest first until it is older than the day, within a budget; past it the
//! answer says it is partial.

use std::collections::BTreeMap;

use super::Admin;
use crate::error::EngineResult;
use crate::model::audit;
use crate::model::event::{self, EventKind};
use crate::model::page::{self, PageRequest};
use crate::util::clock::Timestamp;
use crate::webhooks::deliveries::{self, DeliveryStatus};

const HOUR_MS: i64 = 3_600_000;
const HOURS: usize = 24;
/// Records read per source at most.
const BUDGET: usize = 50_000;

/// One hour's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hour {
    pub start: Timestamp,
    pub calls: usize,
    /// Calls the provider answered with an error (4xx, 5xx) or did not answer.
    pub errors: usize,
    pub delivered: usize,
    pub failed: usize,
    pub renewals: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// The last 24 hours, oldest first; the last one is the hour under way.
    pub hours: Vec<Hour>,
    /// Proxy calls per integration, hour by hour (only `calls` and `errors` are
    /// counted), the integration with the most calls over the day first.
    pub integrations: Vec<(String, Vec<Hour>)>,
    /// A source had more than the budget: the counts are a lower bound.
    pub partial: bool,
}

/// The hour of `hours` (consecutive, oldest first) that `at` falls in.
fn hour_of(hours: &mut [Hour], at: Timestamp) -> Option<&mut Hour> {
    let first = hours.first()?.start;
    let index = usize::try_from((at.0 - first.0).div_euclid(HOUR_MS)).ok()?;
    hours.get_mut(index)
}

impl Activity {
    fn hour(&mut self, at: Timestamp) -> Option<&mut Hour> {
        hour_of(&mut self.hours, at)
    }
}

/// The 24 empty hours that end with the one `now` is in.
fn day_until(now: Timestamp) -> Vec<Hour> {
    let first = Timestamp((now.0.div_euclid(HOUR_MS) - HOURS as i64 + 1) * HOUR_MS);
    (0..HOURS)
        .map(|h| Hour {
            start: first.plus_millis(h as i64 * HOUR_MS),
            calls: 0,
            errors: 0,
            delivered: 0,
            failed: 0,
            renewals: 0,
        })
        .collect()
}

fn count_call(hour: Option<&mut Hour>, failed: bool) {
    if let Some(hour) = hour {
        hour.calls += 1;
        hour.errors += usize::from(failed);
    }
}

impl Admin {
    pub async fn activity(&self, project_id: &str) -> EngineResult<Activity> {
        self.require_project(project_id).await?;
        let now = self.now();
        let mut activity = Activity { hours: day_until(now), ..Activity::default() };
        let first = activity.hours[0].start;
        let tx = self.store.begin().await?;

        let mut by_integration: BTreeMap<String, Vec<Hour>> = BTreeMap::new();
        let (space, mut cursor, mut read) = (audit::project_index(project_id), None, 0);
        'runs: loop {
            let batch = page::read(&tx, "audit", &space, &PageRequest { limit: Some(64), cursor }).await?;
            for pair in &batch.items {
                let entity_id = String::from_utf8_lossy(&pair.value);
                let records = audit::run_of(&tx, project_id, &entity_id, &pair.key).await?;
                // Runs are newest first by their first record: one all before the day ends it.
                if records.iter().all(|r| r.at < first) {
                    break 'runs;
                }
                for record in records.into_iter().filter(|r| r.at >= first) {
                    read += 1;
                    let failed = record.failed();
                    count_call(activity.hour(record.at), failed);
                    let hours = by_integration.entry(record.integration).or_insert_with(|| day_until(now));
                    count_call(hour_of(hours, record.at), failed);
                }
                if read >= BUDGET {
                    activity.partial = true;
                    break 'runs;
                }
            }
            match batch.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut integrations: Vec<(String, Vec<Hour>)> = by_integration.into_iter().collect();
        let calls = |hours: &[Hour]| hours.iter().map(|h| h.calls).sum::<usize>();
        integrations.sort_by(|a, b| calls(&b.1).cmp(&calls(&a.1)).then_with(|| a.0.cmp(&b.0)));
        activity.integrations = integrations;

        let attempts = deliveries::recent(&tx, project_id, first, BUDGET).await?;
        activity.partial |= attempts.len() >= BUDGET;
        for attempt in attempts {
            if let Some(hour) = activity.hour(attempt.at) {
                match attempt.status {
                    DeliveryStatus::Delivered => hour.delivered += 1,
                    DeliveryStatus::Pending | DeliveryStatus::Failed => hour.failed += 1,
                }
            }
        }
        let events = event::recent(&tx, project_id, first, BUDGET).await?;
        activity.partial |= events.len() >= BUDGET;
        for renewal in events.iter().filter(|e| e.kind == EventKind::ConnectionRefreshed) {
            if let Some(hour) = activity.hour(renewal.created_at) {
                hour.renewals += 1;
            }
        }
        Ok(activity)
    }
}
