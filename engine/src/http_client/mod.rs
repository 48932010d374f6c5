//! The one outbound HTTP client, for the proxy, plugins' `fetch` (token calls
//! among them) and webhooks: hyper's HTTP/1 connections, kept alive per origin
//! (`pool`), made by the one connector (`connector`), which holds every connection
//! to the outbound policy. Framing is hyper's: a caller names a method, a URI,
//! headers and a body, never how the body is delimited. One timer bounds a call
//! until its answer's head (longer while a streamed upload keeps moving), then each
//! wait for more of its body.

mod body;
mod connector;
mod error;
mod pool;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use hyper::header::{CONTENT_LENGTH, HeaderMap};
use hyper::{Method, Request, StatusCode, Uri};
use tokio::time::Instant;

pub use body::{BodyStream, ProxyBody, RequestStream};
use body::{Upload, answer_body};
pub use error::{BoxError, HttpError};
use pool::Pool;

use crate::policy::OutboundPolicy;

/// An answer whose body is still to come.
pub struct Answer {
    pub status: u16,
    /// Its headers, less `content-length`, which is `length` (kept for a HEAD).
    pub headers: HeaderMap,
    /// The body's declared length (none for a HEAD, a 204 or a 304, which have no body).
    pub length: Option<u64>,
    pub body: BodyStream,
}

impl Answer {
    /// The whole body, refused past `limit` bytes.
    pub async fn read_to_end(mut self, limit: usize) -> Result<Bytes, HttpError> {
        if self.length.is_some_and(|length| length > limit as u64) {
            return Err(HttpError::TooLarge(limit));
        }
        let mut whole = BytesMut::new();
        while let Some(chunk) = self.body.next().await {
            let chunk = chunk?;
            if whole.len() + chunk.len() > limit {
                return Err(HttpError::TooLarge(limit));
            }
            whole.extend_from_slice(&chunk);
        }
        Ok(whole.freeze())
    }
}

/// See the module documentation. Cheap to clone: clones share their pool.
#[derive(Clone)]
pub struct HttpClient {
    pool: Pool,
}

impl HttpClient {
    /// A client whose connections go where `policy` allows, over TLS trusting
    /// Mozilla's roots.
    pub fn new(policy: OutboundPolicy) -> Result<Self, HttpError> {
        Self::with_roots(policy, None)
    }

    /// A client whose TLS trusts `roots` alone (a test's own certificate).
    pub fn trusting(policy: OutboundPolicy, roots: rustls::RootCertStore) -> Result<Self, HttpError> {
        Self::with_roots(policy, Some(roots))
    }

    fn with_roots(policy: OutboundPolicy, roots: Option<rustls::RootCertStore>) -> Result<Self, HttpError> {
        let connector = connector::connector(policy, roots).map_err(|_| HttpError::Malformed("TLS setup"))?;
        Ok(HttpClient { pool: Pool::new(connector) })
    }

    /// Closes connections idle past their time, of origins no call comes to again
    /// too (the engine's sweeper calls it).
    pub fn sweep_idle(&self) {
        self.pool.sweep();
    }

    /// Sends a request to `uri` (absolute) and returns its answer once its head
    /// has come. `timeout` bounds the wait for the head (from the request, or from
    /// a streamed upload's last piece), then each wait for more of the body: a long
    /// upload or download lasts for as long as it keeps moving.
    pub async fn send(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: ProxyBody,
        timeout: Duration,
    ) -> Result<Answer, HttpError> {
        let (body, upload) = Upload::watch(body);
        let mut request = Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let mut timer = Box::pin(tokio::time::sleep_until(Instant::now() + timeout));
        let exchange = self.pool.send(request);
        tokio::pin!(exchange);
        let answer = loop {
            tokio::select! {
                // The call first, then the timer: no random pick of which to poll.
                biased;
                sent = &mut exchange => break sent?,
                () = timer.as_mut() => {
                    // A streamed upload that moved within `timeout` has that long again.
                    let until = upload.as_ref().map(|upload| upload.last_moved() + timeout);
                    match until.filter(|&until| until > Instant::now()) {
                        Some(until) => timer.as_mut().reset(until),
                        None => return Err(HttpError::Timeout),
                    }
                }
            }
        };
        let (answer, lease) = answer;
        let (parts, body) = answer.into_parts();
        let bodiless = method == Method::HEAD
            || parts.status == StatusCode::NO_CONTENT
            || parts.status == StatusCode::NOT_MODIFIED;
        let mut headers = parts.headers;
        let length = if bodiless {
            None
        } else {
            headers.remove(CONTENT_LENGTH);
            hyper::body::Body::size_hint(&body).exact()
        };
        Ok(Answer {
            status: parts.status.as_u16(),
            headers,
            length,
            body: answer_body(body, lease, timer, timeout),
        })
    }

    /// `send`, with the whole call (its answer read, up to `limit` bytes, included)
    /// bounded by `timeout`: for calls whose answer is small and wanted whole.
    pub async fn fetch(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
        limit: usize,
    ) -> Result<(u16, HeaderMap, Bytes), HttpError> {
        let call = async {
            let answer = self.send(method, uri, headers, body.into(), timeout).await?;
            let (status, headers) = (answer.status, answer.headers.clone());
            Ok((status, headers, answer.read_to_end(limit).await?))
        };
        tokio::time::timeout(timeout, call).await.map_err(|_| HttpError::Timeout)?
    }
}

#[cfg(test)]
mod tests;
