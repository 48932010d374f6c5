//! Where a project wants its events: https URLs (plain http only to loopback,
//! where the operator allows it), never a private, loopback or link-local address
//! otherwise; an optional filter of event types.

use serde::{Deserialize, Serialize};

use crate::model::{RecordError, ids, keys};
use crate::store::Tx;
use crate::util::clock::Timestamp;

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

/// Checks an endpoint URL at registration against the outbound policy (the
/// addresses a name resolves to are checked again at every connection).
pub fn check_url(url: &str, policy: &crate::policy::OutboundPolicy) -> Result<(), String> {
    policy.parse(url).map(drop).map_err(|refused| refused.to_string())
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

/// One page of the project's endpoints, by id.
pub async fn list_page(
    tx: &Tx,
    project_id: &str,
    request: &crate::model::page::PageRequest,
) -> Result<crate::model::page::Page<Endpoint>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("webhook_endpoint",));
    crate::model::page::read_json(tx, "webhook-endpoints", &space, request, WHAT).await
}

pub async fn get(tx: &Tx, project_id: &str, endpoint_id: &str) -> Result<Option<Endpoint>, RecordError> {
    if crate::model::ids::check_minted("whe", endpoint_id, "endpoint id").is_err() {
        return Ok(None);
    }
    crate::model::get_json(tx, &record_key(project_id, endpoint_id), WHAT).await
}

/// Deletes an endpoint: nothing more is delivered to it.
pub async fn delete(tx: &Tx, project_id: &str, endpoint_id: &str) -> Result<(), RecordError> {
    if get(tx, project_id, endpoint_id).await?.is_none() {
        return Err(RecordError::NotFound(WHAT));
    }
    tx.clear(&record_key(project_id, endpoint_id))?;
    Ok(())
}

pub async fn list(tx: &Tx, project_id: &str) -> Result<Vec<Endpoint>, RecordError> {
    let space = keys::project_space(project_id).subspace(&("webhook_endpoint",));
    crate::model::list_json(tx, space.range(), Default::default(), WHAT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, allow_loopback_http: bool) -> Result<(), String> {
        check_url(url, &crate::policy::OutboundPolicy { allow_loopback_http, operator_hosts: None })
    }

    #[test]
    fn endpoint_urls_are_checked() {
        assert!(check("https://hooks.example.com/securix", false).is_ok());
        for bad in [
            "http://hooks.example.com/",
            "https://10.0.0.5/x",
            "https://127.0.0.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://user:pw@example.com/",
            "ftp://example.com/",
        ] {
            assert!(check(bad, false).is_err(), "{bad}");
        }
        assert!(check("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check("http://10.0.0.5/hook", true).is_err(), "loopback only");
        assert!(check("https://[::ffff:10.0.0.5]/hook", false).is_err(), "IPv4-mapped");
    }
}
