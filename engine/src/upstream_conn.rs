//! One HTTP/1.1 connection to a provider, driven by the call that holds it: the
//! request is written and the answer read on the caller's own task. hyper's client
//! connection is a task of its own that each call reaches through a channel, and
//! whose answer comes back through two more (head, then body chunks): task
//! switches and wake-ups that cost a proxied call more than parsing its answer
//! does. Proxied calls are all this serves, so it speaks what they need: one
//! request at a time, bodies sized or chunked both ways, `1xx` answers skipped, an
//! answer without a length read to the connection's close.

use std::io::IoSlice;
use std::task::{Context, Waker};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use hyper::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::error::EngineError;
use crate::http1_message::{
    Chunk, Framing, Head, RequestHead, chunk_size, final_head, length_mismatch, malformed,
};
use crate::upstream::{ProxyBody, RequestStream};
use crate::upstream_transport::{Transport, tcp};

/// The most an answer's head may take (providers send a few kB).
const MAX_HEAD: usize = 64 << 10;
/// The most header lines an answer may have (as hyper).
const MAX_HEADERS: usize = 100;
/// The longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 1024;
/// How much is read at a time, at least.
const READ_SIZE: usize = 16 << 10;

/// A request that did not go out.
pub(crate) enum Unsent {
    /// Not a byte of it: the connection is unusable. The body is handed back.
    Untouched(ProxyBody),
    /// The provider stopped taking it part-way: it may have answered already.
    CutOff,
    Failed(EngineError),
}

/// An HTTP/1.1 connection to a provider, carrying one request at a time.
pub(crate) struct Connection {
    transport: Transport,
    /// Read, not yet consumed.
    buffer: BytesMut,
    /// What is left of the answer being read; `None` once it is read.
    body: Option<Framing>,
    /// Whether the provider keeps the connection open after the answer.
    keep_alive: bool,
    /// Whether the last request went out whole.
    request_sent: bool,
}

impl Connection {
    pub fn new(transport: Transport) -> Self {
        Connection { transport, buffer: BytesMut::new(), body: None, keep_alive: true, request_sent: true }
    }

    /// Whether the connection can carry another request: its last request sent
    /// whole, its answer read to the end, and the provider not about to close it.
    pub fn is_reusable(&self) -> bool {
        self.request_sent && self.keep_alive && self.body.is_none() && self.buffer.is_empty()
    }

    /// Whether nothing arrived while the connection sat idle: no close, no stray
    /// bytes. (tokio knows a socket drained by its last read is not readable, so
    /// this seldom costs a syscall.)
    pub fn is_quiet(&self) -> bool {
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        tcp(&self.transport).poll_peek(&mut Context::from_waker(Waker::noop()), &mut probe).is_pending()
    }

    /// Whether the answer's body has been read to its end.
    pub fn answer_is_read(&self) -> bool {
        self.body.is_none()
    }

    /// Writes a request: its `head`, then `body`. A connection found closed before
    /// any of it went out hands the body back (another connection can carry it).
    pub async fn send(&mut self, head: &RequestHead, body: ProxyBody) -> Result<(), Unsent> {
        self.request_sent = false;
        let (bytes, stream) = match body {
            ProxyBody::Bytes(bytes) => (bytes, None),
            ProxyBody::Stream(stream) => (Bytes::new(), Some(stream)),
        };
        let first = self.transport.write_vectored(&[IoSlice::new(&head.bytes), IoSlice::new(&bytes)]).await;
        let written = match first {
            Ok(written) if written > 0 => written,
            // Nothing went: closed by the provider, or its runtime is gone.
            _ => {
                let body = stream.map_or(ProxyBody::Bytes(bytes), ProxyBody::Stream);
                return Err(Unsent::Untouched(body));
            }
        };
        self.write_all(&[&head.bytes, &bytes], written).await?;
        if let Some(stream) = stream {
            self.write_stream(stream, head.streamed_length).await?;
        }
        self.transport.flush().await.map_err(|_| Unsent::CutOff)?;
        self.request_sent = true;
        Ok(())
    }

    /// Writes `parts` (at most three) whole, less their first `skip` bytes (already
    /// written).
    async fn write_all(&mut self, parts: &[&[u8]], skip: usize) -> Result<(), Unsent> {
        let mut all = [IoSlice::new(&[]); 3];
        for (slice, part) in all.iter_mut().zip(parts) {
            *slice = IoSlice::new(part);
        }
        let mut slices = &mut all[..parts.len()];
        IoSlice::advance_slices(&mut slices, skip);
        while !slices.is_empty() {
            match self.transport.write_vectored(slices).await {
                Ok(0) | Err(_) => return Err(Unsent::CutOff),
                Ok(written) => IoSlice::advance_slices(&mut slices, written),
            }
        }
        Ok(())
    }

    /// Relays a body stream: held to its declared length, or in chunks.
    async fn write_stream(&mut self, mut chunks: RequestStream, declared: Option<u64>) -> Result<(), Unsent> {
        let mut sent = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|error| {
                Unsent::Failed(EngineError::Upstream(format!("the request body broke off: {error}")))
            })?;
            if chunk.is_empty() {
                continue;
            }
            sent += chunk.len() as u64;
            match declared {
                Some(declared) if sent > declared => return Err(Unsent::Failed(length_mismatch())),
                Some(_) => self.write_all(&[&chunk], 0).await?,
                None => {
                    let size = format!("{:x}\r\n", chunk.len());
                    self.write_all(&[size.as_bytes(), &chunk, b"\r\n"], 0).await?;
                }
            }
        }
        match declared {
            Some(declared) if sent != declared => Err(Unsent::Failed(length_mismatch())),
            Some(_) => Ok(()),
            None => self.write_all(&[b"0\r\n\r\n"], 0).await,
        }
    }

    /// Reads the answer's head, past any `1xx` interim answers, to the request `method`.
    pub async fn read_head(&mut self, method: &Method) -> Result<Head, EngineError> {
        loop {
            let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut answer = httparse::Response::new(&mut lines);
            let parsed = answer.parse(&self.buffer).map_err(|_| malformed())?;
            let too_large = match parsed {
                httparse::Status::Complete(head_len) => head_len > MAX_HEAD,
                httparse::Status::Partial => self.buffer.len() > MAX_HEAD,
            };
            if too_large {
                return Err(EngineError::Upstream("the provider's answer has too large a head".into()));
            }
            let httparse::Status::Complete(head_len) = parsed else {
                if self.read_more().await? == 0 {
                    return Err(EngineError::Upstream(
                        "the provider closed the connection without answering".into(),
                    ));
                }
                continue;
            };
            let status =
                answer.code.and_then(|code| StatusCode::from_u16(code).ok()).ok_or_else(malformed)?;
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(malformed());
            }
            let last =
                (!status.is_informational()).then(|| final_head(status, &answer, method)).transpose()?;
            self.buffer.advance(head_len);
            if let Some((head, body, keep_alive)) = last {
                (self.body, self.keep_alive) = (body, keep_alive);
                return Ok(head);
            }
        }
    }

    /// The answer body's next bytes, or `None` at its end.
    pub async fn read_body(&mut self) -> Result<Option<Bytes>, EngineError> {
        loop {
            let Some(framing) = self.body else { return Ok(None) };
            match framing {
                Framing::Length(left) => {
                    let data = self.take_data(left).await?;
                    let left = left - data.len() as u64;
                    self.body = (left > 0).then_some(Framing::Length(left));
                    return Ok(Some(data));
                }
                Framing::Close => {
                    if self.buffer.is_empty() && self.read_more().await? == 0 {
                        self.body = None;
                        return Ok(None);
                    }
                    return Ok(Some(self.buffer.split().freeze()));
                }
                Framing::Chunked(Chunk::Size) => {
                    let line = self.line(MAX_CHUNK_LINE).await?;
                    let size = chunk_size(&line).ok_or_else(malformed)?;
                    let next = if size == 0 { Chunk::Trailers } else { Chunk::Data(size) };
                    self.body = Some(Framing::Chunked(next));
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    let data = self.take_data(left).await?;
                    let left = left - data.len() as u64;
                    self.body = Some(Framing::Chunked(if left > 0 { Chunk::Data(left) } else { Chunk::End }));
                    return Ok(Some(data));
                }
                Framing::Chunked(Chunk::End) => {
                    if !self.line(2).await?.is_empty() {
                        return Err(malformed());
                    }
                    self.body = Some(Framing::Chunked(Chunk::Size));
                }
                Framing::Chunked(Chunk::Trailers) => {
                    // Trailers are dropped, as the proxy's answer has none.
                    let mut trailers = 0;
                    loop {
                        let line = self.line(MAX_HEAD - trailers).await?;
                        if line.is_empty() {
                            break;
                        }
                        trailers += line.len() + 2;
                    }
                    self.body = None;
                    return Ok(None);
                }
            }
        }
    }

    /// Up to `wanted` bytes of body data (at least one).
    async fn take_data(&mut self, wanted: u64) -> Result<Bytes, EngineError> {
        if self.buffer.is_empty() && self.read_more().await? == 0 {
            return Err(broke_off());
        }
        let taken = usize::try_from(wanted).unwrap_or(usize::MAX).min(self.buffer.len());
        Ok(self.buffer.split_to(taken).freeze())
    }

    /// The next line, less its line end; one longer than `max` is malformed.
    async fn line(&mut self, max: usize) -> Result<BytesMut, EngineError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let mut line = self.buffer.split_to(end + 1);
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                return Ok(line);
            }
            if self.buffer.len() > max {
                return Err(malformed());
            }
            if self.read_more().await? == 0 {
                return Err(broke_off());
            }
        }
    }

    /// Reads what has arrived into the buffer: how much (0 at the connection's end).
    async fn read_more(&mut self) -> Result<usize, EngineError> {
        self.buffer.reserve(READ_SIZE);
        self.transport.read_buf(&mut self.buffer).await.map_err(|_| broke_off())
    }
}

fn broke_off() -> EngineError {
    EngineError::Upstream("the provider's answer broke off".into())
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use hyper::header::{CONTENT_LENGTH, HeaderMap, HeaderValue, TRANSFER_ENCODING};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::either::Either;

    use super::*;
    use crate::http1_message::request_head;

    /// What one exchange with a peer came to.
    struct Exchange {
        head: Result<Head, EngineError>,
        body: Result<Vec<u8>, EngineError>,
        reusable: bool,
        /// What the peer received, once the connection was dropped.
        request: String,
    }

    /// Sends `method` with `headers` and `body` to a peer that answers `answer` at
    /// once (then closes if `close`), and reads the answer whole.
    async fn exchange(
        method: Method,
        headers: HeaderMap,
        body: ProxyBody,
        answer: &'static [u8],
        close: bool,
    ) -> Exchange {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let peer = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.write_all(answer).await.unwrap();
            if close {
                stream.shutdown().await.unwrap();
            }
            let mut request = Vec::new();
            let _ = stream.read_to_end(&mut request).await;
            String::from_utf8_lossy(&request).into_owned()
        });
        let mut connection = Connection::new(Either::Left(TcpStream::connect(address).await.unwrap()));
        let host = HeaderValue::from_static("provider.example");
        let head = request_head(&method, "/api/x?q=1", &host, &headers, &body).unwrap();
        assert!(connection.send(&head, body).await.is_ok());
        let head = connection.read_head(&method).await;
        let mut body = Ok(Vec::new());
        if head.is_ok() {
            while let Some(chunk) = connection.read_body().await.transpose() {
                match chunk {
                    Ok(chunk) => body.as_mut().unwrap().extend_from_slice(&chunk),
                    Err(error) => {
                        body = Err(error);
                        break;
                    }
                }
            }
        }
        let reusable = connection.is_reusable();
        drop(connection);
        Exchange { head, body, reusable, request: peer.await.unwrap() }
    }

    async fn get(answer: &'static [u8]) -> Exchange {
        exchange(Method::GET, HeaderMap::new(), ProxyBody::empty(), answer, false).await
    }

    #[tokio::test]
    async fn chunked_answers_are_read_through_extensions_and_trailers() {
        let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;name=v\r\npong\r\n6\r\n, pong\r\n0\r\nx-sum: 1\r\n\r\n";
        let got = get(answer).await;
        assert_eq!(got.head.unwrap().length, None);
        assert_eq!(got.body.unwrap(), b"pong, pong");
        assert!(got.reusable);
        assert_eq!(
            got.request, "GET /api/x?q=1 HTTP/1.1\r\nhost: provider.example\r\n\r\n",
            "a GET without a body has no length"
        );
    }

    #[tokio::test]
    async fn an_answer_without_a_length_is_read_to_the_close_and_not_reused() {
        let got = exchange(
            Method::GET,
            HeaderMap::new(),
            ProxyBody::empty(),
            b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
            true,
        )
        .await;
        assert_eq!(got.body.unwrap(), b"until the end");
        assert!(!got.reusable);
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_a_head_answer_has_a_length_but_no_body() {
        let got = get(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        let head = got.head.unwrap();
        assert_eq!((head.status, head.length, head.headers.len()), (StatusCode::OK, Some(2), 0));
        assert_eq!(got.body.unwrap(), b"ok");
        assert!(got.reusable);

        let got = exchange(
            Method::HEAD,
            HeaderMap::new(),
            ProxyBody::empty(),
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
            false,
        )
        .await;
        assert_eq!(got.head.unwrap().length, Some(10));
        assert_eq!(got.body.unwrap(), b"");
        assert!(got.reusable);
    }

    #[tokio::test]
    async fn answers_after_which_the_provider_may_close_are_not_reused() {
        let closing: [(&'static [u8], Option<u64>); 3] = [
            // Framing headers are read in any case.
            (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok", Some(2)),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", Some(2)),
            // The chunks say how long it is, not the length.
            (b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", None),
        ];
        for (answer, length) in closing {
            let got = get(answer).await;
            let answer = String::from_utf8_lossy(answer);
            assert_eq!(got.head.unwrap().length, length, "{answer}");
            assert_eq!(got.body.unwrap(), b"ok", "{answer}");
            assert!(!got.reusable, "{answer}");
        }
    }

    #[tokio::test]
    async fn malformed_answers_are_upstream_errors() {
        let heads: [&'static [u8]; 8] = [
            b"NOT HTTP AT ALL\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 4, 5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Length: 3\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551616\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
        ];
        for answer in heads {
            let got = get(answer).await;
            assert!(matches!(got.head, Err(EngineError::Upstream(_))), "{}", String::from_utf8_lossy(answer));
        }
        let bodies: [&'static [u8]; 2] = [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokNOT A LINE END",
        ];
        for answer in bodies {
            let got = exchange(Method::GET, HeaderMap::new(), ProxyBody::empty(), answer, true).await;
            assert!(matches!(got.body, Err(EngineError::Upstream(_))), "{}", String::from_utf8_lossy(answer));
            assert!(!got.reusable);
        }
        let huge: &'static [u8] =
            format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n", "b".repeat(MAX_HEAD)).leak().as_bytes();
        let got = get(huge).await;
        assert!(matches!(&got.head, Err(EngineError::Upstream(why)) if why.contains("too large")));
    }

    #[tokio::test]
    async fn request_bodies_go_sized_or_chunked_and_must_match_their_length() {
        let ok: &'static [u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        let pieces = || {
            ProxyBody::from_stream(stream::iter([
                Ok(Bytes::from("pi")),
                Ok(Bytes::new()),
                Ok(Bytes::from("ng")),
            ]))
        };
        let mut caller = HeaderMap::new();
        caller.insert(TRANSFER_ENCODING, HeaderValue::from_static("gzip"));
        let got = exchange(Method::POST, caller, pieces(), ok, false).await;
        assert!(got.reusable);
        assert!(
            got.request.ends_with("transfer-encoding: chunked\r\n\r\n2\r\npi\r\n2\r\nng\r\n0\r\n\r\n"),
            "the caller's framing gives way: {}",
            got.request
        );
        assert_eq!(got.request.matches("transfer-encoding").count(), 1);

        let mut sized = HeaderMap::new();
        sized.insert(CONTENT_LENGTH, HeaderValue::from_static("4"));
        let got = exchange(Method::PUT, sized.clone(), pieces(), ok, false).await;
        assert!(got.request.ends_with("content-length: 4\r\n\r\nping"), "{}", got.request);

        let got = exchange(Method::POST, HeaderMap::new(), ProxyBody::empty(), ok, false).await;
        assert!(
            got.request.ends_with("content-length: 0\r\n\r\n"),
            "a POST says its body is empty: {}",
            got.request
        );

        let host = HeaderValue::from_static("provider.example");
        let short = request_head(&Method::POST, "/", &host, &sized, &ProxyBody::from(b"pin".to_vec()));
        assert!(matches!(short, Err(EngineError::Invalid(_))));
    }

    /// A streamed body that falls short of, or runs past, its declared length fails
    /// the call: the provider would take the difference for the next request.
    #[tokio::test]
    async fn a_streamed_body_unlike_its_length_fails_the_call() {
        for declared in ["3", "5"] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let _ = stream.read_to_end(&mut Vec::new()).await;
            });
            let mut connection = Connection::new(Either::Left(TcpStream::connect(address).await.unwrap()));
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static(declared));
            let body = ProxyBody::from_stream(stream::iter([Ok(Bytes::from("ping"))]));
            let head =
                request_head(&Method::POST, "/", &HeaderValue::from_static("p"), &headers, &body).unwrap();
            let sent = connection.send(&head, body).await;
            assert!(matches!(sent, Err(Unsent::Failed(EngineError::Invalid(_)))), "declared {declared}");
            assert!(!connection.is_reusable());
        }
    }
}
