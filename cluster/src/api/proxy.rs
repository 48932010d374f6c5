//! `ANY /v1/proxy/{integration}/{path…}`: streams both ways. The request body is
//! relayed chunk by chunk (capped); the provider's answer streams back as it comes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use securix_engine::proxy::{ProxyBody, ProxyRequest, is_forwarded};

use super::identity::{AGENT_ID, App, CONNECTION_ID, ENTITY_ID, optional_header, required_header};
use super::problem::ApiError;
use crate::server::AppState;

/// The most a proxied request body may carry.
pub const MAX_PROXY_BODY: usize = 10 << 20;
/// Bodies up to this size (and of a declared length) are read whole before the
/// upstream call: no relay task, one write upstream.
const BUFFERED_BODY: usize = 64 << 10;

/// What follows the proxy's prefix in its route (served as a prefix, see `api::register`).
pub const TARGET: &str = "/{integration}/{path}";

/// The integration and the rest of a proxy URL's path, still percent-encoded (so
/// `%2F` stays visible to the engine's path check); `None` if either is missing.
fn target(path: &str) -> Option<(&str, &str)> {
    let (integration, rest) = path.strip_prefix("/v1/proxy/")?.split_once('/')?;
    (!integration.is_empty()).then_some((integration, rest))
}

pub async fn forward(
    state: web::Data<AppState>,
    App(principal): App,
    request: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (integration, raw_path) =
        target(request.uri().path()).ok_or_else(|| ApiError::not_found("no such route"))?;
    let agent = required_header(&request, AGENT_ID)?;
    let entity = required_header(&request, ENTITY_ID)?;
    let headers = upstream_headers(&request);
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_PROXY_BODY) {
        return Err(too_large());
    }
    let over_cap = Arc::new(AtomicBool::new(false));
    let body = match declared {
        Some(length) if length <= BUFFERED_BODY => buffered(&mut payload, length).await?,
        _ => relayed(payload, over_cap.clone()),
    };
    let proxied = ProxyRequest {
        method: request.method().as_str().to_owned(),
        path: raw_path.to_owned(),
        query: Some(request.query_string().to_owned()).filter(|q| !q.is_empty()),
        headers,
        body,
        connection_id: optional_header(&request, CONNECTION_ID),
    };
    let answer = match state.engine.proxy(&principal, agent, entity, integration, proxied).await {
        // The relay cut the body off at the cap, which failed the upstream call.
        Err(_) if over_cap.load(Ordering::Relaxed) => return Err(too_large()),
        answer => answer?,
    };
    state.metrics.proxy_calls.fetch_add(1, Ordering::Relaxed);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    for (name, value) in &answer.headers {
        // The HTTP client's header types are not actix's: both are checked bytes.
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            response.append_header((name.as_str(), value));
        }
    }
    let body = answer.body.map(|chunk| chunk.map_err(|e| actix_web::error::ErrorBadGateway(e.to_string())));
    // A declared length goes back as the caller's content-length (downloads show
    // progress, HEAD answers keep it); a shorter body then breaks the connection.
    Ok(match answer.length {
        Some(length) => response.body(actix_web::body::SizedStream::new(length, body)),
        None => response.streaming(body),
    })
}

fn too_large() -> ApiError {
    ApiError::too_large(format!("proxied bodies are limited to {MAX_PROXY_BODY} bytes"))
}

/// The caller's headers that go upstream (`proxy::is_forwarded`), in the HTTP
/// client's types. Values that are not visible ASCII stay behind.
fn upstream_headers(request: &HttpRequest) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers().iter().filter(|(name, _)| is_forwarded(name.as_str())) {
        let name = reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes());
        let value = value.to_str().ok().and_then(|value| reqwest::header::HeaderValue::from_str(value).ok());
        if let (Ok(name), Some(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

/// A small body of declared length, read whole.
async fn buffered(payload: &mut web::Payload, length: usize) -> Result<ProxyBody, ApiError> {
    let mut body = bytes::BytesMut::with_capacity(length);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("the request body broke off: {e}")))?;
        if body.len() + chunk.len() > length {
            return Err(ApiError::bad_request("the body is longer than its content-length"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(ProxyBody::from(body.freeze()))
}

/// A large or unsized body, relayed chunk by chunk: actix's payload lives on this
/// thread, so a task forwards it through a channel to the upstream client. Past
/// the cap it fails the body and sets `over_cap`.
fn relayed(mut payload: web::Payload, over_cap: Arc<AtomicBool>) -> ProxyBody {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        let mut total = 0usize;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            if let Ok(bytes) = &chunk {
                total += bytes.len();
            }
            let over = total > MAX_PROXY_BODY;
            if over {
                over_cap.store(true, Ordering::Relaxed);
            }
            let message = if over { Err(std::io::Error::other("request body too large")) } else { chunk };
            if sender.send(message).await.is_err() || over {
                break;
            }
        }
    });
    ProxyBody::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

#[cfg(test)]
mod tests {
    use super::target;

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
