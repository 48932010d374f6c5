//! A site a plugin declares it calls: scheme, host and port, all three matched.
//! Written `api.example.com` (https on 443), `api.example.com:8443` (https on that
//! port) or as an origin, `http://127.0.0.1:4000`.

use url::Url;

use super::PolicyError;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Site {
    scheme: String,
    host: String,
    port: u16,
}

impl Site {
    pub fn parse(raw: &str) -> Result<Site, PolicyError> {
        let spelled = if raw.contains("://") { raw.to_owned() } else { format!("https://{raw}") };
        let url = Url::parse(&spelled).map_err(|_| PolicyError::Malformed)?;
        let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
        let plain = url.username().is_empty() && url.password().is_none();
        let text_ends_at_authority = !spelled.trim_end_matches('/').contains(['?', '#'])
            && spelled.trim_end_matches('/').matches('/').count() == 2;
        if !(bare && plain && text_ends_at_authority) {
            return Err(PolicyError::Malformed);
        }
        Site::of(&url).ok_or(PolicyError::Malformed)
    }

    /// The site a URL goes to (http and https only).
    pub fn of(url: &Url) -> Option<Site> {
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        Some(Site {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    pub fn matches(&self, url: &Url) -> bool {
        Site::of(url).as_ref() == Some(self)
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.scheme.as_str(), self.port) {
            ("https", 443) => write!(f, "{}", self.host),
            ("https", port) => write!(f, "{}:{port}", self.host),
            (scheme, port) => write!(f, "{scheme}://{}:{port}", self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Site;

    fn url(raw: &str) -> url::Url {
        url::Url::parse(raw).unwrap()
    }

    #[test]
    fn a_bare_host_is_https_on_443_and_nothing_else() {
        let site = Site::parse("API.example.com").unwrap();
        assert!(site.matches(&url("https://api.example.com/v1")));
        assert!(site.matches(&url("https://api.example.com:443/v1")));
        assert!(!site.matches(&url("https://api.example.com:8443/v1")));
        assert!(!site.matches(&url("http://api.example.com/v1")));
        assert!(!site.matches(&url("https://evil.api.example.com/")));
        assert_eq!(site.to_string(), "api.example.com");
    }

    #[test]
    fn a_port_or_an_origin_is_matched_exactly() {
        let port = Site::parse("api.example.com:8443").unwrap();
        assert!(port.matches(&url("https://api.example.com:8443/")));
        assert!(!port.matches(&url("https://api.example.com/")));
        let origin = Site::parse("http://127.0.0.1:4000").unwrap();
        assert!(origin.matches(&url("http://127.0.0.1:4000/token")));
        assert!(!origin.matches(&url("http://127.0.0.1:4001/token")));
        assert!(!origin.matches(&url("https://127.0.0.1:4000/token")));
        assert_eq!(origin.to_string(), "http://127.0.0.1:4000");
        assert_eq!(Site::parse("https://a.example:443").unwrap(), Site::parse("a.example").unwrap());
    }

    #[test]
    fn anything_more_than_a_site_is_refused() {
        for bad in [
            "",
            "https://",
            "api.example.com/path",
            "https://u:p@api.example.com",
            "ftp://a.example",
            "a.example?q",
            "a.example#f",
            "https://a.example/x",
        ] {
            assert!(Site::parse(bad).is_err(), "{bad}");
        }
    }
}
