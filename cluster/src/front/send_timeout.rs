//! A client connection whose writes give up when the client stops reading: an
//! answer it takes nothing of for `SEND_TIMEOUT` ends the connection (nginx's
//! `send_timeout`). Without it, a client that never reads would hold its connection,
//! the request's handler and, for a proxied call, a connection to the provider.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::stall::Stall;

/// How long a write may wait for the client to make room (nginx waits 60 s).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SendTimeout<T> {
    io: T,
    /// No timer at all while the client keeps up.
    stall: Stall,
}

impl<T> SendTimeout<T> {
    pub fn new(io: T) -> Self {
        SendTimeout { io, stall: Stall::after(SEND_TIMEOUT) }
    }

    /// `write`'s outcome, or a timeout once writes have waited `SEND_TIMEOUT`.
    fn guard<R>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>>
    where
        T: Unpin,
    {
        if let Poll::Ready(written) = write(Pin::new(&mut self.io), cx) {
            self.stall.progressed();
            return Poll::Ready(written);
        }
        ready!(self.stall.poll_expired(cx));
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendTimeout<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendTimeout<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().guard(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().guard(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, AsyncWrite::poll_flush)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, AsyncWrite::poll_shutdown)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use bytes::Bytes;
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::time::Instant;

    use super::{SEND_TIMEOUT, SendTimeout};

    const ANSWER_BYTES: usize = 1 << 20;

    /// A hyper server answering 1 MB over a pipe of 4 kB, its writes guarded; the
    /// client's end, a request sent; and how the connection ended.
    async fn serve_a_large_answer() -> (DuplexStream, tokio::task::JoinHandle<hyper::Result<()>>) {
        let (mut client, server) = tokio::io::duplex(4 << 10);
        let service = hyper::service::service_fn(|_request| async {
            let body = http_body_util::Full::new(Bytes::from(vec![b'x'; ANSWER_BYTES]));
            Ok::<_, Infallible>(hyper::Response::new(body))
        });
        let io = TokioIo::new(SendTimeout::new(server));
        let served = tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
        client.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        (client, served)
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_loses_its_connection_after_the_timeout() {
        let (client, served) = serve_a_large_answer().await;
        let started = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(600), served).await.unwrap().unwrap();
        let error = ended.unwrap_err();
        let timed_out = std::error::Error::source(&error)
            .and_then(|source| source.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
        assert!(timed_out, "{error:?}");
        let waited = started.elapsed();
        assert!(waited >= SEND_TIMEOUT && waited < SEND_TIMEOUT + Duration::from_secs(1), "{waited:?}");
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_gets_the_whole_answer() {
        let (mut client, served) = serve_a_large_answer().await;
        let (mut received, mut chunk) = (0, vec![0; 64 << 10]);
        let started = Instant::now();
        while received < ANSWER_BYTES {
            tokio::time::sleep(SEND_TIMEOUT - Duration::from_secs(1)).await;
            let read = client.read(&mut chunk).await.unwrap();
            assert!(read > 0, "the answer broke off after {received} bytes");
            received += read;
        }
        assert!(started.elapsed() > SEND_TIMEOUT * 2, "the whole took longer than one timeout");
        drop(client);
        let _ = served.await;
    }
}
