//! `host.fetch`: the one door out of the sandbox.
//!
//! https only (plain http to loopback only where the operator allows it), to the
//! sites (scheme, host and port) the plugin declared for this integration (and the
//! operator allows), no redirects followed, a timeout and size caps both ways. The
//! OAuth client secret goes out only as `client_secret.rs` allows.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::bindings::current::securix::provider::types::{FetchError, Header, HttpRequest, HttpResponse};
use hyper::header::{ACCEPT_ENCODING, CONTENT_ENCODING, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Uri};

use super::client_secret::{ClientSecret, Misplaced};
use super::output::{MAX_HEADER_VALUE, unusable_header};
use crate::http_client::{HttpClient, HttpError};
use crate::policy::{PolicyError, Site};

const MAX_REQUEST_HEADERS: usize = 64;
/// Headers the host sets itself: answers come whole and unencoded, so what the
/// guest reads is what the scrubber saw.
const HOST_SET: &[&str] = &["accept-encoding", "range", "if-range"];

/// The operator's rules for every plugin's `fetch`.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Plain http to 127.0.0.0/8, ::1 and `localhost` (`SECURIX_ALLOW_LOOPBACK_HTTP`).
    pub allow_loopback_http: bool,
    /// When set, plugins may reach only these hosts, whatever they declare.
    pub operator_hosts: Option<HashSet<String>>,
    pub timeout: Duration,
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
    /// Tests only: send requests for a host to a local base URL instead
    /// (`oauth2.googleapis.com` → `http://127.0.0.1:4000`), after every check.
    pub danger_test_routes: HashMap<String, String>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allow_loopback_http: false,
            operator_hosts: None,
            timeout: Duration::from_secs(10),
            max_request_bytes: 1 << 20,
            max_response_bytes: 1 << 20,
            danger_test_routes: HashMap::new(),
        }
    }
}

/// What one call may reach and which secrets it holds.
#[derive(Default)]
pub(crate) struct FetchScope {
    /// Sites the plugin declared, statically and for this integration's configuration.
    pub sites: Vec<Site>,
    /// Exact URLs allowed besides (an OIDC discovery document during `validate-config`).
    pub exact_urls: Vec<String>,
    pub client_secret: ClientSecret,
    /// Fields of a token answer the host reads for itself (`HostState::token_fields`).
    pub token_fields: Vec<String>,
}

/// Why a fetch did not happen: what the guest is told, or the client secret where
/// it may not go (which also fails the whole call).
pub(crate) enum FetchFailure {
    Guest(FetchError),
    Misplaced(Misplaced),
}

impl From<FetchError> for FetchFailure {
    fn from(error: FetchError) -> Self {
        FetchFailure::Guest(error)
    }
}

pub(crate) struct Fetcher {
    client: HttpClient,
    pub policy: FetchPolicy,
}

impl FetchPolicy {
    /// The outbound rules every call of SecuriX follows, as this policy sets them.
    pub fn outbound(&self) -> crate::policy::OutboundPolicy {
        crate::policy::OutboundPolicy {
            allow_loopback_http: self.allow_loopback_http,
            operator_hosts: self.operator_hosts.clone(),
        }
    }
}

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Result<Self, String> {
        let client = HttpClient::new(policy.outbound()).map_err(|e| e.to_string())?;
        Ok(Fetcher { client, policy })
    }

    /// Checks a URL against the policy and the call's scope; returns where to send it.
    /// Returns the URL as the plugin named it and where it goes.
    fn route(&self, scope: &FetchScope, raw: &str) -> Result<(url::Url, url::Url), FetchError> {
        // Scheme, credentials, the operator's hosts, a literal address: the one URL policy.
        let url = self.policy.outbound().parse(raw).map_err(|refused| match refused {
            PolicyError::Malformed => FetchError::Invalid("not an absolute URL".into()),
            refused => FetchError::Denied(refused.to_string()),
        })?;
        let site = Site::of(&url).ok_or_else(|| FetchError::Invalid("URL has no host".into()))?;
        let mut without_query = url.clone();
        without_query.set_query(None);
        without_query.set_fragment(None);
        let exact =
            scope.exact_urls.iter().any(|allowed| allowed == without_query.as_str() || allowed == raw);
        let declared = scope.sites.contains(&site);
        if !(exact || declared) {
            return Err(FetchError::Denied(format!("{site} is not allowed for this plugin")));
        }
        match self.policy.danger_test_routes.get(site.host()) {
            None => Ok((url.clone(), url)),
            Some(base) => {
                let mut routed =
                    url::Url::parse(base).map_err(|_| FetchError::Invalid("bad test route".into()))?;
                routed.set_path(url.path());
                routed.set_query(url.query());
                Ok((url, routed))
            }
        }
    }

    /// Sends `request` if the policy and the call's scope allow it.
    pub async fn fetch(
        &self,
        scope: &FetchScope,
        request: HttpRequest,
    ) -> Result<HttpResponse, FetchFailure> {
        let (named, url) = self.route(scope, &request.url)?;
        let method = match request.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            "HEAD" => Method::HEAD,
            other => return Err(FetchError::Invalid(format!("method {other} is not allowed")).into()),
        };
        if request.body.len() > self.policy.max_request_bytes || request.headers.len() > MAX_REQUEST_HEADERS {
            return Err(FetchError::Invalid("request too large".into()).into());
        }
        for header in &request.headers {
            if let Some(why) = unusable_header(&header.name, &header.value) {
                return Err(FetchError::Invalid(format!("the request has {why}")).into());
            }
            if header.value.len() > MAX_HEADER_VALUE {
                return Err(FetchError::Invalid(format!("the header {} is too long", header.name)).into());
            }
        }
        let mut pairs: Vec<(String, String)> = request
            .headers
            .into_iter()
            .filter(|h| !HOST_SET.iter().any(|set| h.name.eq_ignore_ascii_case(set)))
            .map(|h| (h.name, h.value))
            .collect();
        let mut body = request.body;
        scope.client_secret.place(&named, &mut pairs, &mut body).map_err(FetchFailure::Misplaced)?;
        let mut headers = HeaderMap::with_capacity(pairs.len() + 2);
        headers.insert(USER_AGENT, HeaderValue::from_static("SecuriX"));
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        for (name, value) in pairs {
            let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value))
            else {
                return Err(FetchError::Invalid("malformed header".into()).into());
            };
            headers.append(name, value);
        }
        let uri: Uri = url.as_str().parse().map_err(|_| FetchError::Invalid("not an absolute URL".into()))?;
        let fetched = self
            .client
            .fetch(method, uri, headers, body.into(), self.policy.timeout, self.policy.max_response_bytes)
            .await;
        let (status, answer_headers, answer) = fetched.map_err(|error| match error {
            HttpError::Timeout => FetchError::Timeout,
            HttpError::TooLarge(_) => FetchError::TooLarge,
            HttpError::Refused(refused) => FetchError::Denied(refused.to_string()),
            HttpError::Malformed(why) => FetchError::Invalid(why.into()),
            HttpError::Unreachable(_) => FetchError::Network("connection failed".into()),
            HttpError::BrokenOff(_) => FetchError::Network("transport error".into()),
        })?;
        // An encoded or partial answer could carry the secret past the scrubber.
        let encoded = answer_headers
            .get(CONTENT_ENCODING)
            .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
        if encoded || status == 206 {
            let why = "the answer is encoded or partial, which the host does not pass on";
            return Err(FetchError::Invalid(why.into()).into());
        }
        // A provider that echoes the request back must not hand the secret to the guest.
        let secret = &scope.client_secret;
        let headers = answer_headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_owned(),
                value: secret.scrub_text(&String::from_utf8_lossy(value.as_bytes())),
            })
            .collect();
        Ok(HttpResponse { status, headers, body: secret.scrub(&answer) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(allow_loopback: bool) -> Fetcher {
        Fetcher::new(FetchPolicy { allow_loopback_http: allow_loopback, ..FetchPolicy::default() }).unwrap()
    }

    fn scope(sites: &[&str]) -> FetchScope {
        FetchScope { sites: sites.iter().map(|s| Site::parse(s).unwrap()).collect(), ..FetchScope::default() }
    }

    #[test]
    fn only_declared_https_hosts_pass() {
        let f = fetcher(false);
        let s = scope(&["oauth2.googleapis.com"]);
        assert!(f.route(&s, "https://oauth2.googleapis.com/token").is_ok());
        assert!(matches!(f.route(&s, "https://evil.example/token"), Err(FetchError::Denied(_))));
        assert!(matches!(f.route(&s, "http://oauth2.googleapis.com/token"), Err(FetchError::Denied(_))));
        assert!(matches!(f.route(&s, "https://user:pw@oauth2.googleapis.com/"), Err(FetchError::Denied(_))));
        assert!(matches!(f.route(&s, "ftp://oauth2.googleapis.com/"), Err(FetchError::Denied(_))));
        assert!(matches!(f.route(&s, "/relative"), Err(FetchError::Invalid(_))));
    }

    #[test]
    fn loopback_http_only_when_the_operator_allows_it() {
        let s = scope(&["http://127.0.0.1:9000"]);
        assert!(matches!(fetcher(false).route(&s, "http://127.0.0.1:9000/x"), Err(FetchError::Denied(_))));
        assert!(fetcher(true).route(&s, "http://127.0.0.1:9000/x").is_ok());
        let s = scope(&["http://10.0.0.1"]);
        assert!(
            matches!(fetcher(true).route(&s, "http://10.0.0.1/x"), Err(FetchError::Denied(_))),
            "private is not loopback"
        );
    }

    #[test]
    fn a_declared_site_admits_its_own_scheme_and_port_only() {
        let f = fetcher(true);
        let s = scope(&["api.example.com", "http://127.0.0.1:9000"]);
        assert!(f.route(&s, "https://api.example.com/v1").is_ok());
        assert!(matches!(f.route(&s, "https://api.example.com:8443/v1"), Err(FetchError::Denied(_))));
        assert!(matches!(f.route(&s, "http://127.0.0.1:9001/x"), Err(FetchError::Denied(_))));
        assert!(matches!(f.route(&s, "https://127.0.0.1:9000/x"), Err(FetchError::Denied(_))));
    }
}
