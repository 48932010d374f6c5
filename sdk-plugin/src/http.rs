//! The plugin's only way out: `host.fetch`, wrapped for the common OAuth shapes.

use base64::Engine;

use crate::bindings::securix::provider::host;
use crate::bindings::securix::provider::types::{FetchError, HttpRequest, HttpResponse};
use crate::{Header, ProviderError};

pub use crate::bindings::securix::provider::types::HttpResponse as Response;

fn header(name: &str, value: &str) -> Header {
    Header { name: name.to_owned(), value: value.to_owned() }
}

impl From<FetchError> for ProviderError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Denied(why) => {
                ProviderError::InvalidConfig(format!("request refused by the host: {why}"))
            }
            FetchError::Timeout => ProviderError::Transient("the provider did not answer in time".into()),
            FetchError::TooLarge => ProviderError::Protocol("the provider's answer is too large".into()),
            FetchError::Network(why) => ProviderError::Transient(format!("network: {why}")),
            FetchError::Invalid(why) => ProviderError::Protocol(format!("invalid request: {why}")),
        }
    }
}

impl HttpResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    pub fn json(&self) -> Result<serde_json::Value, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|_| {
            ProviderError::Protocol(format!("expected JSON from the provider (HTTP {})", self.status))
        })
    }
}

/// Sends a request through the host.
pub fn send(
    method: &str,
    url: &str,
    headers: Vec<Header>,
    body: Vec<u8>,
) -> Result<HttpResponse, ProviderError> {
    let request = HttpRequest { method: method.to_owned(), url: url.to_owned(), headers, body };
    Ok(host::fetch(&request)?)
}

/// `GET url` with `Authorization: Bearer token` and JSON accepted.
pub fn get_with_bearer(url: &str, token: &str) -> Result<HttpResponse, ProviderError> {
    send("GET", url, vec![bearer(token), header("accept", "application/json")], Vec::new())
}

/// A form-encoded POST (the OAuth token endpoint's format).
pub fn post_form(
    url: &str,
    fields: &[(&str, &str)],
    mut headers: Vec<Header>,
) -> Result<HttpResponse, ProviderError> {
    headers.push(header("content-type", "application/x-www-form-urlencoded"));
    headers.push(header("accept", "application/json"));
    send("POST", url, headers, crate::url::query(fields).into_bytes())
}

/// `Authorization: Bearer …`.
pub fn bearer(token: &str) -> Header {
    header("authorization", &format!("Bearer {token}"))
}

/// `Authorization: Basic …` for `client_secret_basic` (RFC 6749 §2.3.1: each part
/// form-encoded first).
pub fn basic(user: &str, password: &str) -> Header {
    let pair = format!("{}:{}", crate::url::encode(user), crate::url::encode(password));
    header("authorization", &format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
}

/// A header, for provider-specific needs.
pub fn custom_header(name: &str, value: &str) -> Header {
    header(name, value)
}
