//! `ANY /v1/proxy/{integration}/{path…}`: an app's call to a provider API. It
//! streams both ways: a large or unsized request body is relayed chunk by chunk
//! (capped); the provider's answer streams back as it comes. actix speaks the
//! `http` crate's 0.2 types and the outbound client its 1.x ones: heads are
//! converted here, once each way; bodies pass through untouched.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use actix_web::body::{BodyStream, SizedStream};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, HOST, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use securix_engine::proxy::{ProxyBody, ProxyRequest};

use super::identity::{self, Acting, Presented, present};
use super::problem::ApiError;
use crate::server::AppState;

/// The proxy's scope, matched as a prefix (no pattern to run per request).
pub const SCOPE: &str = "/v1/proxy";
/// Where the proxy's paths start.
pub const PREFIX: &str = "/v1/proxy/";
/// The most a proxied request body may carry.
pub const MAX_PROXY_BODY: usize = 10 << 20;
/// Bodies up to this size (and of a declared length) are read whole before the
/// upstream call: one write upstream.
const BUFFERED_BODY: usize = 64 << 10;

/// The provider's answer, or a problem document.
pub async fn forward(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = CallerHeaders::of(request.headers());
    let presented = Presented {
        api_key: text(caller.api_key),
        agent_id: text(caller.agent_id),
        entity_id: text(caller.entity_id),
        authorization: text(caller.authorization),
    };
    let Acting { principal, agent_id, entity_id } = presented.acting(&state.engine).await?;
    let (integration, raw_path) =
        target(request.uri().path()).ok_or_else(|| ApiError::not_found("no such route"))?;
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_PROXY_BODY) {
        return Err(too_large());
    }
    // HTTP/1.1: a request with neither a length nor chunks has no body.
    let chunked = request.headers().contains_key(actix_web::http::header::TRANSFER_ENCODING);
    // What a relayed body that failed the call leaves to answer instead.
    let (body, refused) = match declared {
        None if !chunked => (ProxyBody::empty(), None),
        Some(length) if length <= BUFFERED_BODY => (buffered(body, length).await?, None),
        _ => {
            let refused = Arc::new(OnceLock::new());
            (relayed(body, declared, refused.clone()), Some(refused))
        }
    };
    let proxied = ProxyRequest {
        method: hyper::Method::from_bytes(request.method().as_str().as_bytes())
            .map_err(|_| ApiError::bad_request("bad method"))?,
        path: raw_path.to_owned(),
        query: request.uri().query().filter(|q| !q.is_empty()).map(str::to_owned),
        connection_id: text(caller.connection_id).map(str::to_owned),
        // The engine picks the ones that go upstream.
        headers: outbound_headers(request.headers()),
        body,
    };
    let answer = match state.engine.proxy(&principal, &agent_id, &entity_id, integration, proxied).await {
        // The relay cut the body off (over the cap, or stalled): that failed the call.
        Err(error) => {
            return Err(refused.and_then(|refused| refused.get().cloned()).unwrap_or_else(|| error.into()));
        }
        Ok(answer) => answer,
    };
    state.metrics.proxy_calls.fetch_add(1, Ordering::Relaxed);
    let mut response =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in &answer.headers {
        if name == hyper::header::CONTENT_LENGTH {
            // Named without a body (a HEAD's or a 304's): said as it is, none sent.
            if let Some(length) = value.to_str().ok().and_then(|v| v.parse().ok()) {
                response.no_chunking(length);
            }
            continue;
        }
        let name = actix_web::http::header::HeaderName::from_bytes(name.as_str().as_bytes());
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(value.as_bytes())) {
            response.append_header((name, value));
        }
    }
    // A failure amid the body breaks the connection: the caller sees a short body.
    let chunks = answer.body.map(|chunk| chunk.map_err(|error| std::io::Error::other(error.to_string())));
    Ok(match answer.length {
        Some(length) => response.body(SizedStream::new(length, chunks)),
        None => response.body(BodyStream::new(chunks)),
    })
}

/// The caller's headers in the outbound client's types, less those no call forwards.
fn outbound_headers(headers: &HeaderMap) -> hyper::HeaderMap {
    let mut converted = hyper::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // Read here already, or framing: never forwarded, so never converted (the
        // engine drops the rest of what stays behind, `Connection`-named ones too).
        if name.as_str().starts_with("securix-") || name == HOST || name == CONTENT_LENGTH {
            continue;
        }
        let name = hyper::header::HeaderName::from_bytes(name.as_str().as_bytes());
        let value = hyper::header::HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            converted.append(name, value);
        }
    }
    converted
}

/// The integration and the rest of a proxy URL's path, still percent-encoded (so
/// `%2F` stays visible to the engine's path check); `None` if either is missing.
fn target(path: &str) -> Option<(&str, &str)> {
    let (integration, rest) = path.strip_prefix(PREFIX)?.split_once('/')?;
    (!integration.is_empty()).then_some((integration, rest))
}

/// The first value of each identity header, found in one pass over a request's
/// headers: a lookup by name would hash each name again.
#[derive(Default)]
struct CallerHeaders<'a> {
    api_key: Option<&'a HeaderValue>,
    agent_id: Option<&'a HeaderValue>,
    entity_id: Option<&'a HeaderValue>,
    connection_id: Option<&'a HeaderValue>,
    authorization: Option<&'a HeaderValue>,
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
                "authorization" => &mut found.authorization,
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

fn too_large() -> ApiError {
    ApiError::too_large(format!("proxied bodies are limited to {MAX_PROXY_BODY} bytes"))
}

/// A small body of declared length, read whole (actix ends it at that length). One
/// that came in one piece, as most do, is sent on as it is: no copy.
async fn buffered(mut body: web::Payload, length: usize) -> Result<ProxyBody, ApiError> {
    let Some(first) = body.next().await.transpose()? else { return Ok(ProxyBody::empty()) };
    let Some(second) = body.next().await.transpose()? else { return Ok(ProxyBody::from(first)) };
    let mut whole = BytesMut::with_capacity(length);
    whole.extend_from_slice(&first);
    whole.extend_from_slice(&second);
    while let Some(piece) = body.next().await.transpose()? {
        whole.extend_from_slice(&piece);
    }
    Ok(ProxyBody::from(whole.freeze()))
}

/// A large or unsized body, relayed chunk by chunk. Past the cap, or stalled, it
/// fails the body and leaves in `refused` what to answer the caller.
fn relayed(body: web::Payload, length: Option<usize>, refused: Arc<OnceLock<ApiError>>) -> ProxyBody {
    let mut total = 0usize;
    let chunks = body.map(move |chunk| {
        let chunk: Bytes = chunk.map_err(|error| {
            let _ = refused.set(ApiError::from(error));
            std::io::Error::other("the request body could not be read")
        })?;
        total += chunk.len();
        if total > MAX_PROXY_BODY {
            let _ = refused.set(too_large());
            return Err(std::io::Error::other("request body too large"));
        }
        Ok(chunk)
    });
    // `web::Payload` is not `Send`: it is relayed from this worker's thread.
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    actix_web::rt::spawn(async move {
        futures_util::pin_mut!(chunks);
        while let Some(chunk) = chunks.next().await {
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    ProxyBody::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver), length.map(|l| l as u64))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderName};

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
            headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
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
