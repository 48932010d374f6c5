//! The one outbound policy, for every call SecuriX makes (the proxy, plugin
//! `fetch`, token calls, webhooks): https only (plain http to loopback where the
//! operator allows it for development), no credentials in URLs, only hosts the
//! operator allows when they set a list, and only public addresses, checked where
//! the connection is made: a name is resolved here and the connection goes only
//! to the addresses that pass, so a name that changes what it points to after it
//! was registered (DNS rebinding) reaches nothing internal.

mod address;
mod site;
mod urls;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

pub use address::{is_internal, is_loopback};
pub use site::Site;
use thiserror::Error;
pub use urls::is_origin;

/// Why a destination is refused. Codes are stable.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("PO0001 {0}")]
    Scheme(String),
    #[error("PO0002 credentials in URLs are not allowed")]
    Credentials,
    /// The address is kept for the log (`Debug`), not said to callers.
    #[error("PO0003 the destination is a private, loopback or link-local address")]
    InternalAddress(String),
    #[error("PO0004 the operator does not allow the host {0}")]
    HostNotAllowed(String),
    #[error("PO0005 {0} has no public address")]
    NoPublicAddress(String),
    #[error("PO0006 not a URL with a host")]
    Malformed,
}

/// `localhost` or a loopback address in any spelling (IPv6 with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(is_loopback)
}

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Plain http, and connections, to loopback addresses (`SECURIX_ALLOW_LOOPBACK_HTTP`).
    pub allow_loopback_http: bool,
    /// When set, only these hosts (lower case names or addresses) may be reached,
    /// loopback included (`SECURIX_ALLOWED_HOSTS`).
    pub operator_hosts: Option<HashSet<String>>,
}

impl OutboundPolicy {
    /// Loopback allowed, nothing else internal: tests and local development.
    pub fn danger_loopback() -> Self {
        OutboundPolicy { allow_loopback_http: true, operator_hosts: None }
    }

    pub(crate) fn allows_address(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || (self.allow_loopback_http && is_loopback(ip))
    }

    /// The addresses of `host` a connection may go to (at least one, or an error).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, PolicyError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|_| PolicyError::NoPublicAddress(bare.to_owned()))?
                .collect(),
        };
        let allowed: Vec<SocketAddr> =
            found.iter().copied().filter(|a| self.allows_address(a.ip())).collect();
        match (allowed.is_empty(), found.first()) {
            (false, _) => Ok(allowed),
            (true, Some(refused)) => Err(PolicyError::InternalAddress(refused.ip().to_string())),
            (true, None) => Err(PolicyError::NoPublicAddress(bare.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &OutboundPolicy, url: &str) -> Result<(), PolicyError> {
        policy.check_url(&url::Url::parse(url).unwrap())
    }

    #[test]
    fn urls_are_checked_for_scheme_credentials_hosts_and_literal_addresses() {
        let open = OutboundPolicy::default();
        assert_eq!(check(&open, "https://api.example.com/v1"), Ok(()));
        assert!(matches!(check(&open, "http://api.example.com/"), Err(PolicyError::Scheme(_))));
        assert_eq!(check(&open, "https://u:p@api.example.com/"), Err(PolicyError::Credentials));
        assert!(matches!(
            check(&open, "https://[::ffff:169.254.169.254]/"),
            Err(PolicyError::InternalAddress(_))
        ));
        assert!(matches!(check(&open, "https://[64:ff9b::a00:1]/"), Err(PolicyError::InternalAddress(_))));
        assert!(matches!(check(&open, "http://127.0.0.1:8080/"), Err(PolicyError::Scheme(_))));
        let dev = OutboundPolicy { allow_loopback_http: true, ..OutboundPolicy::default() };
        assert_eq!(check(&dev, "http://127.0.0.1:8080/"), Ok(()));
        assert!(matches!(check(&dev, "https://10.0.0.1/"), Err(PolicyError::InternalAddress(_))));
        let listed = OutboundPolicy {
            operator_hosts: Some(["api.example.com".to_owned()].into()),
            ..OutboundPolicy::default()
        };
        assert_eq!(check(&listed, "https://API.example.com/"), Ok(()));
        assert!(matches!(check(&listed, "https://evil.example/"), Err(PolicyError::HostNotAllowed(_))));
    }

    #[tokio::test]
    async fn names_are_resolved_to_allowed_addresses_only() {
        let open = OutboundPolicy::default();
        assert!(matches!(open.resolve("localhost", 80).await, Err(PolicyError::InternalAddress(_))));
        assert!(matches!(open.resolve("::ffff:10.1.2.3", 80).await, Err(PolicyError::InternalAddress(_))));
        let dev = OutboundPolicy { allow_loopback_http: true, ..OutboundPolicy::default() };
        assert!(dev.resolve("localhost", 80).await.unwrap().iter().all(|a| a.ip().is_loopback()));
    }
}
