//! Checking credentials at the provider before anything is stored: the entry's
//! `verify` call (a path under the API base) with the credentials placed as every
//! proxied call places them. A 4xx is the provider refusing them; a 5xx, a timeout
//! or no answer says nothing about them, and the user may try again.

use std::time::Duration;

use bytes::Bytes;
use hyper::header::{ACCEPT, HeaderMap, HeaderValue};
use hyper::{Method, Uri};

use super::{Credentials, Spec, inject};
use crate::http_client::{HttpClient, HttpError};

/// The most of a verification answer read (it is only looked at for its status).
const ANSWER_LIMIT: usize = 64 << 10;

/// Why credentials were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The provider answered this 4xx status: the credentials are wrong or lack rights.
    #[error("the provider refused these credentials: {status}")]
    Refused { status: u16 },
    /// The provider failed (5xx): nothing is known of the credentials.
    #[error("the provider answered {status}; try again later")]
    Unavailable { status: u16 },
    /// No answer in time, or none at all.
    #[error("the provider could not be reached: {0}")]
    Unreachable(#[from] HttpError),
    /// The configuration cannot place or address these credentials.
    #[error("the credentials cannot be checked: {0}")]
    Unusable(String),
}

/// Checks `credentials` with the spec's `verify` call under `api_base`; a spec
/// without one accepts what was typed (the first proxied call will tell).
pub async fn verify(
    http: &HttpClient,
    api_base: &str,
    spec: &Spec,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<(), Rejection> {
    let Some(call) = &spec.verify else { return Ok(()) };
    let auth = inject::auth(spec, credentials).map_err(|e| Rejection::Unusable(e.to_string()))?;
    let mut url = format!("{}{}", api_base.trim_end_matches('/'), call.path);
    if let Some(query) = &auth.query {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(query);
    }
    let uri: Uri = url.parse().map_err(|_| Rejection::Unusable("the verify URL is malformed".into()))?;
    let method =
        Method::from_bytes(call.method.as_bytes()).map_err(|_| Rejection::Unusable("bad method".into()))?;
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    for (name, value) in auth.headers {
        headers.insert(name, value);
    }
    let (status, _, _) = http.fetch(method, uri, headers, Bytes::new(), timeout, ANSWER_LIMIT).await?;
    judge(status)
}

/// What a provider's status says of credentials: a 4xx refuses them, a 5xx says
/// nothing of them.
pub(super) fn judge(status: u16) -> Result<(), Rejection> {
    match status {
        200..=299 => Ok(()),
        500.. => Err(Rejection::Unavailable { status }),
        status => Err(Rejection::Refused { status }),
    }
}
