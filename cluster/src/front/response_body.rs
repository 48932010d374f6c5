//! An answer's body as hyper sends it: an actix body from the app, or a
//! provider's answer streaming back through the proxy. A known size becomes the
//! answer's content-length.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use securix_engine::upstream::BodyStream;

pub enum ResponseBody {
    App(BoxBody),
    /// `length` is the provider's declared one; a shorter body breaks the connection.
    Upstream {
        chunks: BodyStream,
        length: Option<u64>,
    },
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            ResponseBody::App(body) => Pin::new(body).poll_next(cx).map(frame),
            ResponseBody::Upstream { chunks, .. } => chunks.as_mut().poll_next(cx).map(frame),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.size_hint().exact() == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        let exact = match self {
            ResponseBody::App(body) => match body.size() {
                BodySize::None => Some(0),
                BodySize::Sized(length) => Some(length),
                BodySize::Stream => None,
            },
            ResponseBody::Upstream { length, .. } => *length,
        };
        exact.map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

/// A chunk as a data frame; a failure as an I/O error (hyper then breaks the connection).
fn frame<E: std::fmt::Display>(
    chunk: Option<Result<Bytes, E>>,
) -> Option<Result<Frame<Bytes>, std::io::Error>> {
    chunk.map(|chunk| chunk.map(Frame::data).map_err(|e| std::io::Error::other(e.to_string())))
}
