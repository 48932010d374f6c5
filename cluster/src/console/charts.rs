//! The project page's last 24 hours as small bar charts, drawn as inline SVG on the
//! server (no script, nothing fetched): an hour per bar, its counts in the bar's
//! title for a pointer or a screen reader.

use securix_engine::admin::{Activity, Hour};

/// Drawing units of a chart: 24 bars in a 480 × 100 box.
const WIDTH: usize = 20;
const HEIGHT: f64 = 96.0;

pub struct Segment {
    pub y: String,
    pub height: String,
    /// `calls`, `ok`, `bad` or `renewals`: the colour.
    pub class: &'static str,
}

pub struct Bar {
    pub x: usize,
    pub segments: Vec<Segment>,
    pub title: String,
}

pub struct Chart {
    pub title: String,
    pub total: String,
    pub bars: Vec<Bar>,
}

type Series = (&'static str, &'static str, fn(&Hour) -> usize);

fn chart(title: impl Into<String>, unit: &str, hours: &[Hour], series: &[Series]) -> Chart {
    let sum = |hour: &Hour| series.iter().map(|(_, _, count)| count(hour)).sum::<usize>();
    let most = hours.iter().map(sum).max().unwrap_or(0).max(1) as f64;
    let bars = hours
        .iter()
        .enumerate()
        .map(|(i, hour)| {
            let mut bottom = HEIGHT;
            let segments = series
                .iter()
                .map(|(_, class, count)| {
                    let height = count(hour) as f64 / most * HEIGHT;
                    bottom -= height;
                    Segment { y: format!("{bottom:.1}"), height: format!("{height:.1}"), class }
                })
                .collect();
            let counts: Vec<String> =
                series.iter().map(|(name, _, count)| format!("{} {name}", count(hour))).collect();
            let at = hour.start.rfc3339();
            Bar { x: i * WIDTH + 2, segments, title: format!("{} UTC: {}", &at[11..16], counts.join(", ")) }
        })
        .collect();
    let total: usize = hours.iter().map(sum).sum();
    Chart { title: title.into(), total: format!("{total} {unit}"), bars }
}

/// The integrations with the most calls that get a chart of their own.
pub const INTEGRATION_CHARTS: usize = 6;

/// Calls the provider answered well, then those it failed, stacked.
const CALLS: &[Series] = &[("answered", "calls", |h| h.calls - h.errors), ("failed", "bad", |h| h.errors)];

/// The project page's charts: calls, webhook attempts, renewals, then the calls of
/// the busiest integrations.
pub fn of(activity: &Activity) -> Vec<Chart> {
    let hours = &activity.hours;
    let mut charts = vec![
        chart("Proxy calls", "calls", hours, CALLS),
        chart(
            "Webhook attempts",
            "attempts",
            hours,
            &[("delivered", "ok", |h| h.delivered), ("failed", "bad", |h| h.failed)],
        ),
        chart("Token renewals", "renewals", hours, &[("renewals", "renewals", |h| h.renewals)]),
    ];
    let busiest = activity.integrations.iter().take(INTEGRATION_CHARTS);
    charts.extend(
        busiest.map(|(integration, hours)| chart(format!("Calls to {integration}"), "calls", hours, CALLS)),
    );
    charts
}

#[cfg(test)]
mod tests {
    use securix_engine::util::clock::Timestamp;

    use super::*;

    #[test]
    fn bars_stack_to_scale_and_say_their_counts() {
        let hour = |i: i64, delivered, failed| Hour {
            start: Timestamp(i * 3_600_000),
            calls: 0,
            errors: 0,
            delivered,
            failed,
            renewals: 0,
        };
        let activity = Activity { hours: vec![hour(0, 2, 2), hour(1, 1, 0)], ..Activity::default() };
        let charts = of(&activity);
        let webhooks = &charts[1];
        assert_eq!(webhooks.total, "5 attempts");
        let tallest = &webhooks.bars[0].segments;
        assert_eq!((tallest[0].height.as_str(), tallest[1].height.as_str()), ("48.0", "48.0"), "half each");
        assert_eq!(
            (tallest[0].y.as_str(), tallest[1].y.as_str()),
            ("48.0", "0.0"),
            "stacked from the bottom"
        );
        assert_eq!(webhooks.bars[1].title, "01:00 UTC: 1 delivered, 0 failed");
        assert_eq!(charts[0].bars[0].segments[0].height, "0.0", "an empty hour has no bar");
    }
}
