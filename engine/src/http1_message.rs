//! HTTP/1.1 messages as proxied calls exchange them, apart from any connection: a
//! request's head encoded with its body's framing, and an answer's head read into
//! how its body is framed and whether the connection outlives it.

use hyper::header::{CONTENT_LENGTH, HOST, HeaderMap, HeaderName, HeaderValue, TRANSFER_ENCODING};
use hyper::{Method, StatusCode};

use crate::error::EngineError;
use crate::upstream::ProxyBody;

/// A request's head, encoded, and how its body is framed.
pub(crate) struct RequestHead {
    pub bytes: Vec<u8>,
    /// For a streamed body: its declared length, or none for chunks.
    pub streamed_length: Option<u64>,
}

/// An answer's status line and headers (less `content-length`, which is `length`).
pub(crate) struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// Its declared length (none for a 204 or 304; a `HEAD`'s answer declares one
    /// and has no body).
    pub length: Option<u64>,
}

/// How the rest of an answer's body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunk),
    /// Up to the connection's close (an answer with neither a length nor chunks).
    Close,
}

/// Where the reading of a chunked body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// A chunk-size line is next.
    Size,
    /// This much of a chunk's data is left, then its line end.
    Data(u64),
    /// The line end after a chunk's data is next.
    End,
    /// After the last chunk: trailer lines, up to an empty one.
    Trailers,
}

/// A final answer's `Head`, how its body is read (`None`: it has none), and
/// whether the connection stays open after it. The framing headers are read from
/// the parsed lines; `content-length` does not go into the head's headers (the
/// length travels apart).
pub(crate) fn final_head(
    status: StatusCode,
    answer: &httparse::Response<'_, '_>,
    method: &Method,
) -> Result<(Head, Option<Framing>, bool), EngineError> {
    let values_of = |wanted: &'static str| {
        answer
            .headers
            .iter()
            .filter(move |line| line.name.eq_ignore_ascii_case(wanted))
            .map(|line| line.value)
    };
    let declared = declared_length(values_of("content-length")).map_err(|_| malformed())?;
    // Chunked if chunks are the last coding; other codings end at the close.
    let chunked = values_of("transfer-encoding")
        .next_back()
        .map(|codings| tokens(codings).next_back().is_some_and(|last| last.eq_ignore_ascii_case(b"chunked")));
    let closes = values_of("connection").flat_map(tokens).any(|token| token.eq_ignore_ascii_case(b"close"));
    let mut headers = HeaderMap::with_capacity(answer.headers.len());
    for line in answer.headers.iter() {
        let name = HeaderName::from_bytes(line.name.as_bytes()).map_err(|_| malformed())?;
        if name != CONTENT_LENGTH {
            headers.append(name, HeaderValue::from_bytes(line.value).map_err(|_| malformed())?);
        }
    }
    let bodiless = matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    let body = if bodiless || method == Method::HEAD {
        None
    } else {
        match (chunked, declared) {
            (Some(true), _) => Some(Framing::Chunked(Chunk::Size)),
            (Some(false), _) | (None, None) => Some(Framing::Close),
            (None, Some(0)) => None,
            (None, Some(length)) => Some(Framing::Length(length)),
        }
    };
    // A length beside a transfer coding is a lie to someone: ignored, and no reuse.
    let lying_length = chunked.is_some() && declared.is_some();
    let length = declared.filter(|_| chunked.is_none());
    let keep_alive = answer.version == Some(1) && !closes && body != Some(Framing::Close) && !lying_length;
    Ok((Head { status, headers, length: length.filter(|_| !bodiless) }, body, keep_alive))
}

/// A header value's comma-separated tokens.
fn tokens(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// Encodes a request's head: `target` is its path and query, `host` its `host`
/// header; the caller's `content-length` and `transfer-encoding` give way to the
/// body's own framing.
pub(crate) fn request_head(
    method: &Method,
    target: &str,
    host: &HeaderValue,
    headers: &HeaderMap,
    body: &ProxyBody,
) -> Result<RequestHead, EngineError> {
    let declared = declared_length(headers.get_all(CONTENT_LENGTH).iter().map(HeaderValue::as_bytes))
        .map_err(|_| EngineError::Invalid("the request's content-length is not a number".into()))?;
    let mut bytes = Vec::with_capacity(128 + target.len() + 64 * headers.len());
    for part in [method.as_str().as_bytes(), b" ", target.as_bytes(), b" HTTP/1.1\r\nhost: ", host.as_bytes()]
    {
        bytes.extend_from_slice(part);
    }
    bytes.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name != CONTENT_LENGTH && name != TRANSFER_ENCODING && name != HOST {
            for part in [name.as_str().as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
                bytes.extend_from_slice(part);
            }
        }
    }
    let streamed_length = match body {
        ProxyBody::Bytes(data) => {
            if declared.is_some_and(|length| length != data.len() as u64) {
                return Err(length_mismatch());
            }
            let takes_a_body = !matches!(
                *method,
                Method::GET
                    | Method::HEAD
                    | Method::DELETE
                    | Method::OPTIONS
                    | Method::TRACE
                    | Method::CONNECT
            );
            if !data.is_empty() || declared.is_some() || takes_a_body {
                put_length(&mut bytes, data.len() as u64);
            }
            None
        }
        ProxyBody::Stream(_) => {
            match declared {
                Some(length) => put_length(&mut bytes, length),
                None => bytes.extend_from_slice(b"transfer-encoding: chunked\r\n"),
            }
            declared
        }
    };
    bytes.extend_from_slice(b"\r\n");
    Ok(RequestHead { bytes, streamed_length })
}

fn put_length(bytes: &mut Vec<u8>, length: u64) {
    for part in [b"content-length: ", itoa::Buffer::new().format(length).as_bytes(), b"\r\n"] {
        bytes.extend_from_slice(part);
    }
}

/// A `content-length` that is not one number (repeated or listed values must agree).
struct MalformedLength;

/// The length the `content-length` header `values` give, a request's or an
/// answer's: digits only (no sign, no blanks inside), and repeated or listed
/// values must agree.
fn declared_length<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Option<u64>, MalformedLength> {
    let mut length = None;
    for number in values.flat_map(tokens) {
        let value = |sum: u64, &digit: &u8| sum.checked_mul(10)?.checked_add(u64::from(digit - b'0'));
        let parsed = (!number.is_empty() && number.iter().all(u8::is_ascii_digit))
            .then(|| number.iter().try_fold(0, value))
            .flatten()
            .ok_or(MalformedLength)?;
        if length.is_some_and(|length| length != parsed) {
            return Err(MalformedLength);
        }
        length = Some(parsed);
    }
    Ok(length)
}

/// A chunk-size line's size (hex digits, then any extensions after `;`).
pub(crate) fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

pub(crate) fn length_mismatch() -> EngineError {
    EngineError::Invalid("the request body does not match its content-length".into())
}

pub(crate) fn malformed() -> EngineError {
    EngineError::Upstream("the provider's answer is not valid HTTP/1.1".into())
}
