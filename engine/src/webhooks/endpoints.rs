//! Where a project wants its events: https URLs (plain http only to loopback,
//! where the operator allows it), never a private, loopback or link-local address
//! otherwise; an optional filter of event types.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::model::{RecordError, ids, keys};
use crate::store::Tx;

const WHAT: &str = "webhook endpoint";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: String,
    pub project_id: String,
    pub url: String,
    /// Event types to send; `None` sends all.
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    /// Since when every attempt failed (cleared by a success).
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Endpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled && self.events.as_ref().is_none_or(|types| types.iter().any(|t| t == event_type))
    }
}

fn record_key(project_id: &str, id: &str) -> Vec<u8> {
    keys::project_space(project_id).pack(&("webhook_endpoint", id))
}

/// Whether an address is one a webhook must not reach from outside tests.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Checks an endpoint URL at registration (the worker checks resolved addresses again at each send).
pub fn check_url(url: &str, allow_loopback_http: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "not an absolute URL".to_owned())?;
    let host = parsed.host_str().ok_or("the URL has no host")?.trim_matches(['[', ']']);
    let loopback = crate::plugins::is_loopback(host);
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials in the URL are not allowed".into());
    }
    match parsed.scheme() {
        "https" => {}
        "http" if allow_loopback_http && loopback => {}
        _ => return Err("webhook endpoints must use https".into()),
    }
    if loopback && !allow_loopback_http {
        return Err("loopback addresses are not allowed".into());
    }
    if let Ok(ip) = host.parse::<IpAddr>()
        && is_internal(ip)
        && !(allow_loopback_http && ip.is_loopback())
    {
        return Err("private, loopback and link-local addresses are not allowed".into());
    }
    Ok(())
}

pub fn create(
    tx: &Tx,
    project_id: &str,
    url: &str,
    events: Option<Vec<String>>,
    now: Timestamp,
) -> Result<Endpoint, RecordError> {
    let endpoint = Endpoint {
        id: ids::mint("whe"),
        project_id: project_id.to_owned(),
        url: url.to_owned(),
        events,
        enabled: true,
        failing_since: None,
        created_at: now,
    };
    put(tx, &endpoint)?;
    Ok(endpoint)
}

pub fn put(tx: &Tx, endpoint: &Endpoint) -> Result<(), RecordError> {
    crate::model::put_json(tx, &record_key(&endpoint.project_id, &endpoint.id), endpoint, WHAT)
}

pub async fn list(tx: &Tx, project_id: &str) -> Result<Vec<Endpoint>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("webhook_endpoint",));
    crate::model::list_json(tx, space.range(), Default::default(), WHAT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_checked() {
        assert!(check_url("https://hooks.example.com/securix", false).is_ok());
        for bad in [
            "http://hooks.example.com/",
            "https://10.0.0.5/x",
            "https://127.0.0.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://user:pw@example.com/",
            "ftp://example.com/",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("http://10.0.0.5/hook", true).is_err(), "loopback only");
    }
}
