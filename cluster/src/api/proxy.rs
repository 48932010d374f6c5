//! `ANY /v1/proxy/{integration}/{path…}`: streams both ways. The request body is
//! relayed chunk by chunk (capped); the provider's answer streams back as it comes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use securix_engine::proxy::ProxyRequest;

use super::identity::{AGENT_ID, App, CONNECTION_ID, ENTITY_ID, optional_header, required_header};
use super::problem::ApiError;
use crate::server::AppState;

/// The most a proxied request body may carry.
pub const MAX_PROXY_BODY: usize = 10 << 20;

pub async fn forward(
    state: web::Data<AppState>,
    App(principal): App,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (integration, rest) = path.into_inner();
    let agent = required_header(&request, AGENT_ID)?;
    let entity = required_header(&request, ENTITY_ID)?;
    // The raw path after the integration, still percent-encoded, so `%2F` stays visible.
    let prefix = format!("/v1/proxy/{integration}/");
    let raw_path = request.uri().path().strip_prefix(&prefix).map(str::to_owned).unwrap_or(rest);
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned())))
        .collect();
    // actix's payload lives on this thread; relay it through a channel to the upstream client.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        let mut total = 0usize;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            if let Ok(bytes) = &chunk {
                total += bytes.len();
            }
            let over = total > MAX_PROXY_BODY;
            let message = if over { Err(std::io::Error::other("request body too large")) } else { chunk };
            if sender.send(message).await.is_err() || over {
                break;
            }
        }
    });
    let body = reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let proxied = ProxyRequest {
        method: request.method().as_str().to_owned(),
        path: raw_path,
        query: Some(request.query_string().to_owned()).filter(|q| !q.is_empty()),
        headers,
        body,
        connection_id: optional_header(&request, CONNECTION_ID),
    };
    let answer = state.engine.proxy(&principal, &agent, &entity, &integration, proxied).await?;
    state.metrics.proxy_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    for (name, value) in &answer.headers {
        response.append_header((name.as_str(), value.as_str()));
    }
    Ok(response.streaming(
        answer.body.map(|chunk| chunk.map_err(|e| actix_web::error::ErrorBadGateway(e.to_string()))),
    ))
}
