//! Bodies both ways. A request body is bytes at hand or a stream relayed as it
//! comes; hyper frames it from what it says of its size (a length, chunked, or
//! nothing at all for an empty one). An answer's body is its data, chunk by chunk,
//! each wait for the next bounded.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::error::HttpError;
use super::pool::Lease;

/// A request body relayed as it comes.
pub type RequestStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send>>;

/// An outbound request's body.
pub enum ProxyBody {
    /// Sent with its length; none at all when empty.
    Bytes(Bytes),
    /// Relayed as it comes: with a length when it is known, else chunked. One that
    /// yields more or less than its length fails the call.
    Stream { chunks: RequestStream, length: Option<u64> },
}

impl ProxyBody {
    pub fn empty() -> Self {
        ProxyBody::Bytes(Bytes::new())
    }

    pub fn from_stream(
        chunks: impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
        length: Option<u64>,
    ) -> Self {
        ProxyBody::Stream { chunks: Box::pin(chunks), length }
    }
}

impl From<Bytes> for ProxyBody {
    fn from(bytes: Bytes) -> Self {
        ProxyBody::Bytes(bytes)
    }
}

impl From<Vec<u8>> for ProxyBody {
    fn from(bytes: Vec<u8>) -> Self {
        ProxyBody::Bytes(bytes.into())
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            ProxyBody::Bytes(bytes) if bytes.is_empty() => Poll::Ready(None),
            ProxyBody::Bytes(bytes) => Poll::Ready(Some(Ok(Frame::data(std::mem::take(bytes))))),
            ProxyBody::Stream { chunks, .. } => {
                chunks.as_mut().poll_next(cx).map(|chunk| chunk.map(|c| c.map(Frame::data)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ProxyBody::Bytes(bytes) if bytes.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Bytes(bytes) => SizeHint::with_exact(bytes.len() as u64),
            ProxyBody::Stream { length: Some(length), .. } => SizeHint::with_exact(*length),
            ProxyBody::Stream { length: None, .. } => SizeHint::default(),
        }
    }
}

/// When a streamed upload last moved (the caller sent a piece): an upload that
/// keeps moving may take longer than one timeout.
pub(super) struct Upload {
    started: Instant,
    /// Milliseconds from `started`.
    moved_at: Arc<AtomicU64>,
}

impl Upload {
    /// A streamed `body` made to note each piece it yields, and its upload; bytes at
    /// hand stay as they are, with none.
    pub fn watch(body: ProxyBody) -> (ProxyBody, Option<Upload>) {
        let ProxyBody::Stream { chunks, length } = body else { return (body, None) };
        let upload = Upload { started: Instant::now(), moved_at: Arc::default() };
        let (started, moved_at) = (upload.started, upload.moved_at.clone());
        let noted = chunks.inspect(move |_| {
            moved_at.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        });
        (ProxyBody::from_stream(noted, length), Some(upload))
    }

    pub fn last_moved(&self) -> Instant {
        self.started + Duration::from_millis(self.moved_at.load(Ordering::Relaxed))
    }
}

/// An answer's body, chunk by chunk.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, HttpError>> + Send>>;

/// The data of `body` (trailers are dropped), failing once `timer` fires, which is
/// set again `wait` ahead after each piece. Read to its end (or with nothing to
/// read: a server does not poll for the end of a body it sent whole), its
/// connection goes back to the pool at once; dropped before, it is closed.
pub(super) fn answer_body(
    body: Incoming,
    lease: Lease,
    timer: Pin<Box<Sleep>>,
    wait: Duration,
) -> BodyStream {
    if body.is_end_stream() {
        lease.give_back();
        return Box::pin(futures_util::stream::empty());
    }
    Box::pin(futures_util::stream::unfold(Some((body, lease, timer)), move |state| async move {
        let (mut body, lease, mut timer) = state?;
        loop {
            let frame = tokio::select! {
                // The body first, then the timer: no random pick of which to poll.
                biased;
                frame = body.frame() => frame,
                () = timer.as_mut() => return Some((Err(HttpError::Timeout), None)),
            };
            match frame {
                None => {
                    lease.give_back();
                    return None;
                }
                Some(Err(error)) => return Some((Err(HttpError::BrokenOff(error.into())), None)),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if body.is_end_stream() => {
                        lease.give_back();
                        return Some((Ok(data), None));
                    }
                    Ok(data) => {
                        timer.as_mut().reset(Instant::now() + wait);
                        return Some((Ok(data), Some((body, lease, timer))));
                    }
                    // Trailers.
                    Err(_) => continue,
                },
            }
        }
    }))
}
