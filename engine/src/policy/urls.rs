//! The one URL policy: how SecuriX reads a URL it will call itself (the proxy's
//! base, a plugin's fetch, a webhook endpoint), one it sends a user's browser to
//! (a plugin's authorize URL), and an app's web origin. Every room reads URLs
//! through here, so the rules cannot drift apart.

use std::net::IpAddr;

use url::Url;

use super::{OutboundPolicy, PolicyError, is_loopback_host};

/// Control characters and spaces: a URL parser drops line breaks and tabs
/// silently, so the text handed on (a `Location` header, say) would still carry them.
fn has_forbidden_bytes(raw: &str) -> bool {
    raw.bytes().any(|b| b.is_ascii_control() || b == b' ')
}

impl OutboundPolicy {
    /// `raw` as a URL SecuriX may call: absolute, without control characters,
    /// and within `check_url`. Names are checked again where connections are made.
    pub fn parse(&self, raw: &str) -> Result<Url, PolicyError> {
        if has_forbidden_bytes(raw) {
            return Err(PolicyError::Malformed);
        }
        let url = Url::parse(raw).map_err(|_| PolicyError::Malformed)?;
        self.check_url(&url)?;
        Ok(url)
    }

    /// `raw` as a URL a user's browser may be sent to: https (plain http to
    /// loopback where allowed), no credentials, no control characters. The
    /// operator's host list governs SecuriX's own calls, not where a browser goes.
    pub fn parse_for_browser(&self, raw: &str) -> Result<Url, PolicyError> {
        if has_forbidden_bytes(raw) {
            return Err(PolicyError::Malformed);
        }
        let url = Url::parse(raw).map_err(|_| PolicyError::Malformed)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PolicyError::Credentials);
        }
        let host = url.host_str().ok_or(PolicyError::Malformed)?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_loopback_http && is_loopback_host(host) => Ok(url),
            other => Err(PolicyError::Scheme(format!("a browser may not be sent to a {other} URL"))),
        }
    }

    /// Checks what a URL says before any connection: scheme, credentials, the
    /// operator's hosts, and an address written in it.
    pub fn check_url(&self, url: &url::Url) -> Result<(), PolicyError> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PolicyError::Credentials);
        }
        let host = url.host_str().ok_or(PolicyError::Malformed)?.to_ascii_lowercase();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let literal = bare.parse::<IpAddr>().ok();
        let loopback = is_loopback_host(&host);
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback_http && loopback => {}
            "http" => {
                return Err(PolicyError::Scheme(format!("plain http to {host} is not allowed; use https")));
            }
            other => return Err(PolicyError::Scheme(format!("the scheme {other} is not allowed"))),
        }
        if let Some(hosts) = &self.operator_hosts
            && !hosts.contains(bare)
        {
            return Err(PolicyError::HostNotAllowed(host));
        }
        match literal {
            Some(ip) if !self.allows_address(ip) => Err(PolicyError::InternalAddress(ip.to_string())),
            _ => Ok(()),
        }
    }
}

/// An app's web origin, exactly as a browser serializes it: scheme (http or
/// https), host and port, nothing more (the popup posts its result to it).
pub fn is_origin(raw: &str) -> bool {
    let Ok(url) = Url::parse(raw) else { return false };
    matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some()
        && url.origin().ascii_serialization() == raw
}

#[cfg(test)]
mod tests {
    use super::{OutboundPolicy, PolicyError, is_origin};

    #[test]
    fn an_origin_is_scheme_host_and_port_only() {
        for good in
            ["https://app.example", "http://127.0.0.1:3000", "https://app.example:8443", "http://[::1]:8080"]
        {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "https://app.example/",
            "https://app.example/path",
            "https://app.example?q=1",
            "https://app.example#</script><script>alert(1)</script>",
            "https://user:pw@app.example",
            "https://APP.example",
            "https://app.example:443",
            "javascript:alert(1)",
            "null",
            "app.example",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    /// A line break the parser would drop silently is refused, for calls and for
    /// browsers alike.
    #[test]
    fn urls_with_control_characters_are_malformed_wherever_they_go() {
        let policy = OutboundPolicy::danger_loopback();
        for raw in ["https://api.example/a\r\nx: y", "https://api.example/a\tb", "https://api.example/a b"] {
            assert_eq!(policy.parse(raw).err(), Some(PolicyError::Malformed), "{raw:?}");
            assert_eq!(policy.parse_for_browser(raw).err(), Some(PolicyError::Malformed), "{raw:?}");
        }
        assert!(policy.parse("https://api.example/a").is_ok());
    }

    #[test]
    fn a_browser_goes_to_https_or_allowed_loopback_http_whatever_the_hosts_list() {
        let mut policy =
            OutboundPolicy { operator_hosts: Some(["api.example".to_owned()].into()), ..Default::default() };
        assert!(policy.parse_for_browser("https://accounts.example/authorize").is_ok());
        assert!(matches!(
            policy.parse_for_browser("http://127.0.0.1/authorize"),
            Err(PolicyError::Scheme(_))
        ));
        assert!(matches!(
            policy.parse_for_browser("javascript:alert(1)"),
            Err(PolicyError::Scheme(_) | PolicyError::Malformed)
        ));
        assert_eq!(
            policy.parse_for_browser("https://u:p@accounts.example/").err(),
            Some(PolicyError::Credentials)
        );
        policy.allow_loopback_http = true;
        assert!(policy.parse_for_browser("http://127.0.0.1/authorize").is_ok());
    }
}
