//! A request's way from hyper to actix-web's `App`, and its answer's way back.
//! The two speak different versions of the `http` crate, so heads are converted
//! field by field; bodies stream through untouched.

use std::net::SocketAddr;

use actix_service::ServiceExt;
use actix_service::boxed::BoxService;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::{HttpResponse, ResponseError};
use futures_util::TryStreamExt;
use hyper::body::Incoming;

use super::request_body::RequestBody;
use super::response_body::ResponseBody;
use crate::api::problem::ApiError;

/// The app as the front calls it: boxed once per worker, its bodies too.
pub type AppService = BoxService<actix_http::Request, ServiceResponse<BoxBody>, actix_web::Error>;

/// `app` in the form the front calls.
pub fn boxed<S, B>(app: S) -> AppService
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    actix_service::boxed::service(app.map(ServiceResponse::map_into_boxed_body))
}

/// The app's answer to `request`.
pub async fn call(
    app: &AppService,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<ResponseBody> {
    let answer = match to_actix(request, peer) {
        Ok(request) => match app.call(request).await {
            Ok(answer) => answer.into_parts().1,
            Err(error) => error.error_response(),
        },
        Err(error) => error.error_response(),
    };
    to_hyper(answer)
}

/// A problem document as hyper sends it.
pub fn problem(error: &ApiError) -> hyper::Response<ResponseBody> {
    to_hyper(error.error_response())
}

fn to_actix(request: hyper::Request<Incoming>, peer: SocketAddr) -> Result<actix_http::Request, ApiError> {
    let (parts, body) = request.into_parts();
    let body = RequestBody::new(body);
    let payload = if body.is_empty() {
        Payload::None
    } else {
        let chunks = body.map_err(|e| PayloadError::Io(e.into()));
        Payload::Stream { payload: Box::pin(chunks) as actix_http::BoxedPayloadStream }
    };
    let mut converted = actix_http::Request::with_payload(payload);
    let head = converted.head_mut();
    head.peer_addr = Some(peer);
    head.method = actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|_| ApiError::bad_request("bad method"))?;
    head.version = match parts.version {
        hyper::Version::HTTP_10 => actix_web::http::Version::HTTP_10,
        _ => actix_web::http::Version::HTTP_11,
    };
    // Origin-form targets (all but absolute URLs) are their path and query.
    let target = match (parts.uri.scheme(), parts.uri.path_and_query()) {
        (None, Some(path)) => actix_web::http::Uri::try_from(path.as_str()),
        _ => actix_web::http::Uri::try_from(parts.uri.to_string()),
    };
    head.uri = target.map_err(|_| ApiError::bad_request("bad request target"))?;
    let headers = head.headers_mut();
    headers.reserve(parts.headers.len());
    let mut name = None;
    // hyper's map yields a name once for all its values; actix's appends each.
    for (key, value) in parts.headers {
        if let Some(key) = key {
            name = actix_web::http::header::HeaderName::from_bytes(key.as_str().as_bytes()).ok();
        }
        let value = actix_web::http::header::HeaderValue::from_bytes(value.as_bytes());
        if let (Some(name), Ok(value)) = (&name, value) {
            headers.append(name.clone(), value);
        }
    }
    Ok(converted)
}

fn to_hyper(answer: HttpResponse<BoxBody>) -> hyper::Response<ResponseBody> {
    let (head, body) = answer.into_parts();
    let mut converted = hyper::Response::new(ResponseBody::App(body));
    *converted.status_mut() = hyper::StatusCode::from_u16(head.status().as_u16())
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = converted.headers_mut();
    headers.reserve(head.headers().len());
    for (name, value) in head.headers() {
        let name = hyper::header::HeaderName::from_bytes(name.as_str().as_bytes());
        let value = hyper::header::HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    converted
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::rc::Rc;
    use std::time::Duration;

    use actix_service::IntoServiceFactory;
    use actix_web::dev::{AppConfig, ServiceFactory};
    use actix_web::{App, web};
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{boxed, call};

    /// A JSON body that stops coming, through the front's body and the bridge to
    /// the app's JSON extractor: answered 408 with a problem document.
    #[tokio::test(start_paused = true)]
    async fn a_json_body_that_stalls_is_answered_with_a_request_timeout() {
        let local = tokio::task::LocalSet::new();
        let answer = local
            .run_until(async {
                let app = App::new().app_data(crate::server::json_config()).route(
                    "/",
                    web::post().to(|_: web::Json<serde_json::Value>| async { "read whole" }),
                );
                let app = Rc::new(boxed(app.into_factory().new_service(AppConfig::default()).await.unwrap()));
                let (mut client, server) = tokio::io::duplex(64 << 10);
                let service = hyper::service::service_fn(move |request| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(call(&app, request, "127.0.0.1:1".parse().unwrap()).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service);
                tokio::task::spawn_local(connection);
                client
                    .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{\"a\"")
                    .await
                    .unwrap();
                let mut answer = Vec::new();
                let read = tokio::time::timeout(Duration::from_secs(600), client.read_to_end(&mut answer));
                read.await.unwrap().unwrap();
                String::from_utf8(answer).unwrap()
            })
            .await;
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        assert!(answer.contains("https://securix.dev/problems/request-timeout"), "{answer}");
    }
}
