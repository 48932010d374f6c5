//! A request's body as the handlers read it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

/// How long, and how much of, a body nobody wanted is still read.
const LINGER: Duration = Duration::from_secs(5);
const LINGER_BYTES: usize = 16 << 20;

/// The body's data (trailers are dropped). Dropped before its end (a handler
/// refused the request without reading all of it), the rest is read and thrown
/// away for a while, as nginx's lingering close does: a connection closed with
/// unread bytes is reset by the kernel, and the client would lose the answer.
pub struct RequestBody(Option<Incoming>);

impl RequestBody {
    pub fn new(body: Incoming) -> Self {
        RequestBody(Some(body).filter(|body| !body.is_end_stream()))
    }

    /// Whether nothing (more) is left to read: hyper knows a sized body's end as
    /// soon as its last byte is read, before the stream says so.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(Incoming::is_end_stream)
    }
}

impl Stream for RequestBody {
    type Item = Result<Bytes, hyper::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let Some(body) = self.0.as_mut() else { return Poll::Ready(None) };
            match ready!(Pin::new(body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(chunk) => return Poll::Ready(Some(Ok(chunk))),
                    Err(_trailers) => continue,
                },
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    self.0 = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(mut body) = self.0.take().filter(|body| !body.is_end_stream()) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let mut read = 0;
            let rest = async {
                while let Some(Ok(frame)) = body.frame().await {
                    read += frame.data_ref().map_or(0, Bytes::len);
                    if read > LINGER_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, rest).await;
        });
    }
}
