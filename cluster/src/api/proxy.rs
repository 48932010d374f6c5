//! `ANY /v1/proxy/{integration}/{path…}`: served by the front ahead of the app
//! (`crate::front`), in hyper's types, which are the engine's too. It streams both
//! ways: a large or unsized request body is relayed chunk by chunk (capped); the
//! provider's answer streams back as it comes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use securix_engine::proxy::{ProxyBody, ProxyRequest};

use super::identity::{self, present};
use super::problem::ApiError;
use crate::front::{BodyError, RequestBody, ResponseBody, problem};
use crate::server::AppState;

/// Where the proxy's paths start.
pub const PREFIX: &str = "/v1/proxy/";
/// The most a proxied request body may carry.
pub const MAX_PROXY_BODY: usize = 10 << 20;
/// Bodies up to this size (and of a declared length) are read whole before the
/// upstream call: one write upstream.
const BUFFERED_BODY: usize = 64 << 10;

/// The provider's answer, or a problem document.
pub async fn forward(state: &AppState, request: Request<Incoming>) -> Response<ResponseBody> {
    call(state, request).await.unwrap_or_else(|error| problem(&error))
}

async fn call(state: &AppState, request: Request<Incoming>) -> Result<Response<ResponseBody>, ApiError> {
    let (parts, body) = request.into_parts();
    let body = RequestBody::new(body);
    let caller = CallerHeaders::of(&parts.headers);
    let key = text(caller.api_key)
        .ok_or_else(|| ApiError::unauthorized("the securix-api-key header is required"))?;
    let principal = state.engine.authenticate(key).await?;
    let (integration, raw_path) =
        target(parts.uri.path()).ok_or_else(|| ApiError::not_found("no such route"))?;
    let agent = required(caller.agent_id, identity::AGENT_ID)?.to_owned();
    let entity = required(caller.entity_id, identity::ENTITY_ID)?.to_owned();
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_PROXY_BODY) {
        return Err(too_large());
    }
    // What a relayed body that failed the call leaves to answer instead.
    let (body, refused) = match declared {
        Some(length) if length <= BUFFERED_BODY => (buffered(body, length).await?, None),
        _ => {
            let refused = Arc::new(OnceLock::new());
            (relayed(body, refused.clone()), Some(refused))
        }
    };
    let proxied = ProxyRequest {
        method: parts.method,
        path: raw_path.to_owned(),
        query: parts.uri.query().filter(|q| !q.is_empty()).map(str::to_owned),
        connection_id: text(caller.connection_id).map(str::to_owned),
        // The engine picks the ones that go upstream.
        headers: parts.headers,
        body,
    };
    let answer = match state.engine.proxy(&principal, &agent, &entity, integration, proxied).await {
        // The relay cut the body off (over the cap, or stalled): that failed the call.
        Err(error) => {
            return Err(refused.and_then(|refused| refused.get().cloned()).unwrap_or_else(|| error.into()));
        }
        Ok(answer) => answer,
    };
    state.metrics.proxy_calls.fetch_add(1, Ordering::Relaxed);
    let mut response = Response::new(ResponseBody::Upstream { chunks: answer.body, length: answer.length });
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    *response.headers_mut() = answer.headers;
    Ok(response)
}

/// The integration and the rest of a proxy URL's path, still percent-encoded (so
/// `%2F` stays visible to the engine's path check); `None` if either is missing.
fn target(path: &str) -> Option<(&str, &str)> {
    let (integration, rest) = path.strip_prefix(PREFIX)?.split_once('/')?;
    (!integration.is_empty()).then_some((integration, rest))
}

/// The first value of each identity header, found in one pass over a request's
/// headers: a lookup by name would hash each name again (~200 instructions each).
#[derive(Default)]
struct CallerHeaders<'a> {
    api_key: Option<&'a HeaderValue>,
    agent_id: Option<&'a HeaderValue>,
    entity_id: Option<&'a HeaderValue>,
    connection_id: Option<&'a HeaderValue>,
}

impl<'a> CallerHeaders<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        let mut found = CallerHeaders::default();
        for (name, value) in headers {
            let first = match name.as_str() {
                identity::API_KEY => &mut found.api_key,
                identity::AGENT_ID => &mut found.agent_id,
                identity::ENTITY_ID => &mut found.entity_id,
                identity::CONNECTION_ID => &mut found.connection_id,
                _ => continue,
            };
            first.get_or_insert(value);
        }
        found
    }
}

/// A header value as text, if it has any.
fn text(value: Option<&HeaderValue>) -> Option<&str> {
    value?.to_str().ok().and_then(present)
}

fn required<'a>(value: Option<&'a HeaderValue>, name: &str) -> Result<&'a str, ApiError> {
    text(value).ok_or_else(|| ApiError::bad_request(format!("the {name} header is required")))
}

fn too_large() -> ApiError {
    ApiError::too_large(format!("proxied bodies are limited to {MAX_PROXY_BODY} bytes"))
}

/// A small body of declared length, read whole (hyper ends it at that length). One
/// that came in one piece, as most do, is sent on as it is: no copy.
async fn buffered(mut body: RequestBody, length: usize) -> Result<ProxyBody, ApiError> {
    let longer = || ApiError::bad_request("the body is longer than its content-length");
    let Some(first) = next_piece(&mut body).await? else { return Ok(ProxyBody::empty()) };
    if first.len() > length {
        return Err(longer());
    }
    if body.is_empty() {
        return Ok(ProxyBody::from(first));
    }
    let mut whole = BytesMut::with_capacity(length);
    whole.extend_from_slice(&first);
    while let Some(piece) = next_piece(&mut body).await? {
        if whole.len() + piece.len() > length {
            return Err(longer());
        }
        whole.extend_from_slice(&piece);
    }
    Ok(ProxyBody::from(whole.freeze()))
}

/// The body's next piece, none once hyper knows it has all of it.
async fn next_piece(body: &mut RequestBody) -> Result<Option<Bytes>, BodyError> {
    if body.is_empty() {
        return Ok(None);
    }
    body.next().await.transpose()
}

/// A large or unsized body, relayed chunk by chunk. Past the cap, or stalled, it
/// fails the body and leaves in `refused` what to answer the caller.
fn relayed(body: RequestBody, refused: Arc<OnceLock<ApiError>>) -> ProxyBody {
    let mut total = 0usize;
    ProxyBody::from_stream(body.map(move |chunk| {
        let chunk = chunk.map_err(|error| {
            if matches!(error, BodyError::Stalled) {
                let _ = refused.set(BodyError::Stalled.into());
            }
            std::io::Error::from(error)
        })?;
        total += chunk.len();
        if total > MAX_PROXY_BODY {
            let _ = refused.set(too_large());
            return Err(std::io::Error::other("request body too large"));
        }
        Ok(chunk)
    }))
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderMap;

    use super::{CallerHeaders, target, text};

    #[test]
    fn each_identity_header_counts_with_its_first_value_if_it_has_text() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("Securix-Agent-Id", "first"),
            ("securix-agent-id", "second"),
            ("x-other", "ignored"),
            ("securix-entity-id", "  "),
            ("securix-entity-id", "too late"),
            ("securix-api-key", " sxk_key "),
        ] {
            headers.append(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let caller = CallerHeaders::of(&headers);
        assert_eq!(text(caller.api_key), Some("sxk_key"));
        assert_eq!(text(caller.agent_id), Some("first"));
        assert_eq!(text(caller.entity_id), None, "a blank first value is no value");
        assert_eq!(text(caller.connection_id), None);
    }

    #[test]
    fn a_target_names_an_integration_and_keeps_the_rest_encoded() {
        assert_eq!(target("/v1/proxy/github/user/repos"), Some(("github", "user/repos")));
        assert_eq!(target("/v1/proxy/github/a%2Fb"), Some(("github", "a%2Fb")));
        assert_eq!(target("/v1/proxy/github//x"), Some(("github", "/x")), "the engine refuses it");
        assert_eq!(target("/v1/proxy/github/"), Some(("github", "")));
        for missing in ["/v1/proxy/github", "/v1/proxy//x", "/v1/proxy/", "/v1/proxy", "/v1/proxyx/a/b"] {
            assert_eq!(target(missing), None, "{missing}");
        }
    }
}
