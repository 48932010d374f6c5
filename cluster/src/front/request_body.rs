//! A request's body as the handlers read it.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

use super::stall::Stall;

/// How long, and how much of, a body nobody wanted is still read.
const LINGER: Duration = Duration::from_secs(5);
const LINGER_BYTES: usize = 16 << 20;
/// How long a body may go without a byte before it is given up (nginx's
/// `client_body_timeout` is 60 s): a client trickling one would otherwise hold its
/// connection, and the handler reading it, for as long as it likes.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The body's data (trailers are dropped). Dropped before its end (a handler
/// refused the request without reading all of it), the rest is read and thrown
/// away for a while, as nginx's lingering close does: a connection closed with
/// unread bytes is reset by the kernel, and the client would lose the answer.
pub struct RequestBody {
    body: Option<Incoming>,
    /// No timer at all for a body that came with its head, as small ones do.
    stall: Stall,
}

/// Why a request's body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed, or the body broke its framing.
    Broken(hyper::Error),
    /// Nothing arrived for `STALL_TIMEOUT`.
    Stalled,
}

impl RequestBody {
    pub fn new(body: Incoming) -> Self {
        RequestBody {
            body: Some(body).filter(|body| !body.is_end_stream()),
            stall: Stall::after(STALL_TIMEOUT),
        }
    }

    /// Whether nothing (more) is left to read: hyper knows a sized body's end as
    /// soon as its last byte is read, before the stream says so.
    pub fn is_empty(&self) -> bool {
        self.body.as_ref().is_none_or(Incoming::is_end_stream)
    }
}

impl Stream for RequestBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let Some(body) = self.body.as_mut() else { return Poll::Ready(None) };
            let Poll::Ready(frame) = Pin::new(body).poll_frame(cx) else {
                ready!(self.stall.poll_expired(cx));
                // Given up: nothing of it is worth lingering for.
                self.body = None;
                return Poll::Ready(Some(Err(BodyError::Stalled)));
            };
            self.stall.progressed();
            match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(chunk) => return Poll::Ready(Some(Ok(chunk))),
                    Err(_trailers) => continue,
                },
                Some(Err(error)) => return Poll::Ready(Some(Err(BodyError::Broken(error)))),
                None => {
                    self.body = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Broken(error) => write!(f, "the request body broke off: {error}"),
            BodyError::Stalled => {
                write!(f, "the request body stalled: nothing came for {} s", STALL_TIMEOUT.as_secs())
            }
        }
    }
}

impl std::error::Error for BodyError {}

impl From<BodyError> for std::io::Error {
    fn from(error: BodyError) -> Self {
        let kind = match error {
            BodyError::Stalled => std::io::ErrorKind::TimedOut,
            BodyError::Broken(_) => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, error)
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(mut body) = self.body.take().filter(|body| !body.is_end_stream()) else { return };
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

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::StreamExt;
    use hyper::body::Incoming;
    use hyper_util::rt::TokioIo;
    use tokio::io::AsyncWriteExt;
    use tokio::time::Instant;

    use super::{BodyError, RequestBody, STALL_TIMEOUT};

    /// Sends `parts` of a request, each after its pause, to a hyper server whose
    /// handler reads the body with `RequestBody`; then waits, the connection left
    /// open, for what the handler read.
    async fn read_by_handler(parts: &[(Duration, &[u8])]) -> Result<Vec<u8>, BodyError> {
        let (mut client, server) = tokio::io::duplex(64 << 10);
        let (report, reported) = tokio::sync::oneshot::channel();
        let report = std::sync::Mutex::new(Some(report));
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let report = report.lock().ok().and_then(|mut report| report.take());
            async move {
                let mut body = RequestBody::new(request.into_body());
                let mut read = Vec::new();
                let outcome = loop {
                    match body.next().await {
                        Some(Ok(chunk)) => read.extend_from_slice(&chunk),
                        Some(Err(error)) => break Err(error),
                        None => break Ok(read),
                    }
                };
                if let Some(report) = report {
                    let _ = report.send(outcome);
                }
                Ok::<_, Infallible>(hyper::Response::new(http_body_util::Empty::<Bytes>::new()))
            }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service),
        );
        for (pause, part) in parts {
            tokio::time::sleep(*pause).await;
            client.write_all(part).await.unwrap();
        }
        // Virtual time: a handler that never answers fails the test at once.
        tokio::time::timeout(Duration::from_secs(600), reported).await.unwrap().unwrap()
    }

    const HEAD: &[u8] = b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n";

    #[tokio::test(start_paused = true)]
    async fn a_body_nothing_more_comes_of_is_given_up_after_the_stall_timeout() {
        let started = Instant::now();
        let outcome = read_by_handler(&[(Duration::ZERO, HEAD), (Duration::ZERO, b"abc")]).await;
        assert!(matches!(outcome, Err(BodyError::Stalled)), "{outcome:?}");
        let waited = started.elapsed();
        assert!(waited >= STALL_TIMEOUT && waited < STALL_TIMEOUT + Duration::from_secs(1), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_is_read_whole_while_each_part_comes_in_time() {
        let gap = STALL_TIMEOUT - Duration::from_secs(1);
        let started = Instant::now();
        let parts = [(Duration::ZERO, HEAD), (gap, b"abc".as_slice()), (gap, b"defg"), (gap, b"hij")];
        let read = read_by_handler(&parts).await.unwrap();
        assert_eq!(read, b"abcdefghij");
        assert!(started.elapsed() > STALL_TIMEOUT * 2, "the whole took longer than one timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_came_with_its_head_is_read_at_once() {
        let started = Instant::now();
        let read =
            read_by_handler(&[(Duration::ZERO, b"POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc")]).await;
        assert_eq!(read.unwrap(), b"abc");
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
