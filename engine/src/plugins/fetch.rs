//! `host.fetch`: the one door out of the sandbox.
//!
//! https only (plain http to loopback only where the operator allows it), to hosts
//! the plugin declared for this integration (and the operator allows), no redirects
//! followed, a timeout and size caps both ways. The OAuth client secret is written
//! into a request only here, only during calls that authenticate the client
//! (exchange, refresh, revoke), and only into a form body, a JSON body or a Basic
//! `Authorization` header — never into a URL.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::bindings::v0_1_0::securix::provider::types::{FetchError, Header, HttpRequest, HttpResponse};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Uri};

use super::plugin::unusable_header;
use crate::http_client::{HttpClient, HttpError};
use crate::policy::PolicyError;
use crate::util::secret::SecretString;

/// What the guest writes where the client secret goes. Only unreserved URL
/// characters, so form-encoding leaves it intact.
pub const CLIENT_SECRET_PLACEHOLDER: &str = "__securix_client_secret__";

const MAX_HEADERS: usize = 64;
const MIN_SCRUBBED_SECRET: usize = 8;

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
    /// Hosts the plugin declared, statically and for this integration's configuration.
    pub hosts: HashSet<String>,
    /// Exact URLs allowed besides (an OIDC discovery document during `validate-config`).
    pub exact_urls: Vec<String>,
    /// The client secret, present only in calls that authenticate the client.
    pub client_secret: Option<SecretString>,
}

impl FetchScope {
    /// The client secret as it may appear on the wire: raw, form-encoded, JSON-escaped.
    pub fn secret_forms(&self) -> Vec<String> {
        let Some(secret) = &self.client_secret else { return Vec::new() };
        let raw = secret.expose();
        let json = serde_json::to_string(raw).unwrap_or_default();
        let mut forms = vec![raw.to_owned(), form_encode(raw), json.trim_matches('"').to_owned()];
        // Scrubbing a very short secret would mangle ordinary text (and such a
        // secret guards little anyway).
        forms.retain(|form| form.len() >= MIN_SCRUBBED_SECRET);
        forms.dedup();
        forms
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
    fn route(&self, scope: &FetchScope, raw: &str) -> Result<url::Url, FetchError> {
        // Scheme, credentials, the operator's hosts, a literal address: the one URL policy.
        let url = self.policy.outbound().parse(raw).map_err(|refused| match refused {
            PolicyError::Malformed => FetchError::Invalid("not an absolute URL".into()),
            refused => FetchError::Denied(refused.to_string()),
        })?;
        let host = url
            .host_str()
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| FetchError::Invalid("URL has no host".into()))?;
        let mut without_query = url.clone();
        without_query.set_query(None);
        without_query.set_fragment(None);
        let exact =
            scope.exact_urls.iter().any(|allowed| allowed == without_query.as_str() || allowed == raw);
        let declared = scope.hosts.contains(&host);
        if !(exact || declared) {
            return Err(FetchError::Denied(format!("host {host} is not allowed for this plugin")));
        }
        match self.policy.danger_test_routes.get(&host) {
            None => Ok(url),
            Some(base) => {
                let mut routed =
                    url::Url::parse(base).map_err(|_| FetchError::Invalid("bad test route".into()))?;
                routed.set_path(url.path());
                routed.set_query(url.query());
                Ok(routed)
            }
        }
    }

    pub async fn fetch(&self, scope: &FetchScope, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let url = self.route(scope, &request.url)?;
        let method = match request.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            "HEAD" => Method::HEAD,
            other => return Err(FetchError::Invalid(format!("method {other} is not allowed"))),
        };
        if request.body.len() > self.policy.max_request_bytes || request.headers.len() > MAX_HEADERS {
            return Err(FetchError::Invalid("request too large".into()));
        }
        let content_type = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-type"))
            .map(|h| h.value.to_ascii_lowercase())
            .unwrap_or_default();
        let body = match &scope.client_secret {
            Some(secret) => fill_secret_in_body(request.body, &content_type, secret),
            None => request.body,
        };
        let mut headers = HeaderMap::with_capacity(request.headers.len() + 1);
        headers.insert(USER_AGENT, HeaderValue::from_static("SecuriX"));
        for header in &request.headers {
            if let Some(why) = unusable_header(&header.name, &header.value) {
                return Err(FetchError::Invalid(format!("the request has {why}")));
            }
            let value = match &scope.client_secret {
                Some(secret) if header.name.eq_ignore_ascii_case("authorization") => {
                    fill_secret_in_basic(&header.value, secret)
                }
                _ => header.value.clone(),
            };
            let name = HeaderName::from_bytes(header.name.as_bytes());
            let value = HeaderValue::from_str(&value);
            let (Ok(name), Ok(value)) = (name, value) else {
                return Err(FetchError::Invalid("malformed header".into()));
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
        let headers = answer_headers
            .iter()
            .filter_map(|(name, value)| {
                value.to_str().ok().map(|v| Header { name: name.as_str().to_owned(), value: v.to_owned() })
            })
            .collect();
        let mut body = answer.to_vec();
        // A provider that echoes the request back must not hand the secret to the guest.
        for form in scope.secret_forms() {
            body = replace_bytes(&body, form.as_bytes(), CLIENT_SECRET_PLACEHOLDER.as_bytes());
        }
        Ok(HttpResponse { status, headers, body })
    }
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn fill_secret_in_body(body: Vec<u8>, content_type: &str, secret: &SecretString) -> Vec<u8> {
    let placeholder = CLIENT_SECRET_PLACEHOLDER.as_bytes();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        replace_bytes(&body, placeholder, form_encode(secret.expose()).as_bytes())
    } else if content_type.starts_with("application/json") {
        let quoted = serde_json::to_string(secret.expose()).unwrap_or_default();
        let inner = quoted.trim_start_matches('"').trim_end_matches('"');
        replace_bytes(&body, placeholder, inner.as_bytes())
    } else {
        body
    }
}

/// `Basic base64(id:placeholder)` → `Basic base64(id:secret)` (form-encoded, RFC 6749 §2.3.1).
fn fill_secret_in_basic(value: &str, secret: &SecretString) -> String {
    let Some(encoded) = value.strip_prefix("Basic ") else { return value.to_owned() };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else { return value.to_owned() };
    let filled = replace_bytes(
        &decoded,
        CLIENT_SECRET_PLACEHOLDER.as_bytes(),
        form_encode(secret.expose()).as_bytes(),
    );
    format!("Basic {}", STANDARD.encode(filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(allow_loopback: bool) -> Fetcher {
        Fetcher::new(FetchPolicy { allow_loopback_http: allow_loopback, ..FetchPolicy::default() }).unwrap()
    }

    fn scope(hosts: &[&str]) -> FetchScope {
        FetchScope { hosts: hosts.iter().map(|h| h.to_string()).collect(), ..FetchScope::default() }
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
        let s = scope(&["127.0.0.1", "localhost"]);
        assert!(matches!(fetcher(false).route(&s, "http://127.0.0.1:9000/x"), Err(FetchError::Denied(_))));
        assert!(fetcher(true).route(&s, "http://127.0.0.1:9000/x").is_ok());
        let s = scope(&["10.0.0.1"]);
        assert!(
            matches!(fetcher(true).route(&s, "http://10.0.0.1/x"), Err(FetchError::Denied(_))),
            "private is not loopback"
        );
    }

    #[test]
    fn the_secret_goes_into_bodies_and_basic_auth_never_urls() {
        let secret = SecretString::new("s3cr&t=+/");
        let form = format!("client_id=abc&client_secret={CLIENT_SECRET_PLACEHOLDER}").into_bytes();
        let filled = fill_secret_in_body(form, "application/x-www-form-urlencoded", &secret);
        assert_eq!(String::from_utf8(filled).unwrap(), "client_id=abc&client_secret=s3cr%26t%3D%2B%2F");
        let basic = format!("Basic {}", STANDARD.encode(format!("abc:{CLIENT_SECRET_PLACEHOLDER}")));
        let filled = fill_secret_in_basic(&basic, &secret);
        let decoded = STANDARD.decode(filled.trim_start_matches("Basic ")).unwrap();
        assert_eq!(decoded, b"abc:s3cr%26t%3D%2B%2F");
        let other = fill_secret_in_body(CLIENT_SECRET_PLACEHOLDER.as_bytes().to_vec(), "text/plain", &secret);
        assert_eq!(other, CLIENT_SECRET_PLACEHOLDER.as_bytes());
    }
}
