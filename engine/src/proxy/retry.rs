//! Retrying a call the provider asked to slow down (429, 503, or the statuses its
//! catalog entry names). Only an idempotent call (RFC 9110 §9.2.2) whose body is
//! still at hand is sent again: a streamed body is gone once sent. The wait is the
//! provider's (`Retry-After`, or the header its entry names, in its format), else a
//! jittered backoff; a provider that asks for longer than `MAX_WAIT` gets its answer
//! passed back to the caller at once rather than a request held open.

use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use hyper::header::{HeaderMap, HeaderName};
use rand::Rng;
use serde_json::Value;

use crate::catalog::Entry;
use crate::catalog::entry::{RateLimit, RetryAfterFormat};
use crate::http_client::ProxyBody;
use crate::util::clock::Timestamp;

/// Sends after the first, at most.
pub(crate) const MAX_RETRIES: u32 = 3;
/// The longest one wait may be: longer, and the answer goes back as it is.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(10);
/// The first backoff when the provider names no wait; it doubles per retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// What says "slow down" for one integration, and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RetryRule {
    statuses: Vec<u16>,
    header: HeaderName,
    format: RetryAfterFormat,
}

impl Default for RetryRule {
    fn default() -> Self {
        RetryRule {
            statuses: vec![429, 503],
            header: hyper::header::RETRY_AFTER,
            format: RetryAfterFormat::Seconds,
        }
    }
}

impl RetryRule {
    /// The integration's `rateLimit` (its `config` first, then its catalog entry),
    /// over the defaults. A malformed one leaves the defaults.
    pub fn of(config: &Value, entry: Option<&Entry>) -> RetryRule {
        let configured =
            config.get("rateLimit").and_then(|v| serde_json::from_value::<RateLimit>(v.clone()).ok());
        let Some(rate_limit) = configured.or_else(|| entry.and_then(|e| e.rate_limit.clone())) else {
            return RetryRule::default();
        };
        let default = RetryRule::default();
        RetryRule {
            statuses: rate_limit.statuses.unwrap_or(default.statuses),
            header: rate_limit
                .retry_after_header
                .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok())
                .unwrap_or(default.header),
            format: rate_limit.retry_after_format.unwrap_or(default.format),
        }
    }

    /// How long to wait before sending again, after `retries` retries; `None`: pass
    /// the answer back (not a slow-down status, retries spent, or too long a wait).
    pub fn wait(&self, status: u16, headers: &HeaderMap, retries: u32, now: Timestamp) -> Option<Duration> {
        if retries >= MAX_RETRIES || !self.statuses.contains(&status) {
            return None;
        }
        let wait = match headers.get(&self.header).and_then(|v| v.to_str().ok()) {
            Some(value) => self.asked(value.trim(), now)?,
            None => backoff(retries),
        };
        (wait <= MAX_WAIT).then_some(wait)
    }

    /// The wait a header's value asks for; `None` when it cannot be read (then the
    /// answer goes back: guessing could hammer a provider that said something else).
    fn asked(&self, value: &str, now: Timestamp) -> Option<Duration> {
        let until_ms = |at_ms: i64| Duration::from_millis(at_ms.saturating_sub(now.0).max(0) as u64);
        match self.format {
            RetryAfterFormat::Seconds => value
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(MAX_WAIT.as_secs_f64() + 1.0))),
            RetryAfterFormat::EpochSeconds => {
                value.parse::<i64>().ok().map(|at| until_ms(at.saturating_mul(1000)))
            }
            RetryAfterFormat::HttpDate => {
                let at = httpdate::parse_http_date(value).ok()?;
                let since_epoch = at.duration_since(std::time::UNIX_EPOCH).ok()?;
                Some(until_ms(since_epoch.as_millis() as i64))
            }
        }
    }
}

/// `FIRST_BACKOFF` doubled per retry, between half and all of it (full jitter
/// would let a retry go at once, into the same overload).
fn backoff(retries: u32) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(1 << retries.min(8));
    full.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

/// The body to send again, if the call may be retried: an idempotent method and a
/// body still in memory (a streamed one is consumed by the first send).
pub(crate) fn replayable(method: &Method, body: &ProxyBody) -> Option<Bytes> {
    let idempotent = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    );
    match body {
        ProxyBody::Bytes(bytes) if idempotent => Some(bytes.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        headers
    }

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn a_slow_down_is_waited_out_as_the_provider_asks_within_bounds() {
        let rule = RetryRule::default();
        let too_many = 429;
        assert_eq!(rule.wait(too_many, &headers("retry-after", "2"), 0, NOW), Some(Duration::from_secs(2)));
        assert_eq!(
            rule.wait(too_many, &headers("retry-after", "0.5"), 0, NOW),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            rule.wait(too_many, &headers("retry-after", "3600"), 0, NOW),
            None,
            "too long: passed back"
        );
        assert_eq!(
            rule.wait(too_many, &headers("retry-after", "soon"), 0, NOW),
            None,
            "unreadable: passed back"
        );
        assert_eq!(
            rule.wait(too_many, &headers("retry-after", "1"), MAX_RETRIES, NOW),
            None,
            "retries spent"
        );
        assert_eq!(rule.wait(502, &HeaderMap::new(), 0, NOW), None);
        let backoff = rule.wait(503, &HeaderMap::new(), 2, NOW).unwrap();
        assert!((FIRST_BACKOFF * 2..=FIRST_BACKOFF * 4).contains(&backoff), "{backoff:?}");
        let date =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_millis(NOW.0 as u64 + 3000));
        assert_eq!(
            rule.wait(too_many, &headers("retry-after", &date), 0, NOW),
            None,
            "a date, read as seconds"
        );
    }

    #[test]
    fn an_entry_names_its_statuses_header_and_format() {
        let reset = json!({"rateLimit": {"statuses": [403, 429], "retryAfterHeader": "x-rate-limit-reset",
                                         "retryAfterFormat": "epoch-seconds"}});
        let rule = RetryRule::of(&reset, None);
        let at = headers("x-rate-limit-reset", &(NOW.0 / 1000 + 4).to_string());
        assert_eq!(rule.wait(403, &at, 0, NOW), Some(Duration::from_secs(4)));
        assert_eq!(rule.wait(503, &at, 0, NOW), None, "503 is not among its statuses");
        let past = headers("x-rate-limit-reset", &(NOW.0 / 1000 - 60).to_string());
        assert_eq!(rule.wait(403, &past, 0, NOW), Some(Duration::ZERO));
        let dated = RetryRule::of(&json!({"rateLimit": {"retryAfterFormat": "http-date"}}), None);
        let date =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_millis(NOW.0 as u64 + 3000));
        assert_eq!(dated.wait(429, &headers("retry-after", &date), 0, NOW), Some(Duration::from_secs(3)));
        let entry = crate::catalog::Catalog::embedded().get("twitter");
        let twitter = RetryRule::of(&json!({}), entry.as_deref());
        assert_eq!(twitter.header, "x-rate-limit-reset", "from the catalog entry");
        assert_eq!(RetryRule::of(&json!({"rateLimit": "bad"}), None), RetryRule::default());
    }

    #[test]
    fn only_idempotent_calls_with_their_body_at_hand_are_sent_again() {
        let bytes = ProxyBody::from(Bytes::from_static(b"{}"));
        assert!(replayable(&Method::GET, &ProxyBody::empty()).is_some());
        assert!(replayable(&Method::PUT, &bytes).is_some());
        assert!(replayable(&Method::POST, &bytes).is_none());
        assert!(replayable(&Method::PATCH, &ProxyBody::empty()).is_none());
        let stream = ProxyBody::from_stream(futures_util::stream::empty(), Some(0));
        assert!(replayable(&Method::PUT, &stream).is_none());
    }
}
