//! Middleware: a request body that goes `STALL_TIMEOUT` without a byte is given
//! up (nginx's `client_body_timeout` works the same way), so a client trickling
//! one cannot hold its connection, and the handler reading it, for as long as it
//! likes. actix-http bounds a request's head, not the waits within its body. The
//! handler sees a timed-out read (`is_stalled`), answered 408.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;

use super::stall::Stall;

/// How long a body may go without a byte (nginx's default is 60 s).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Bounds every wait for the next piece of `request`'s body. Called by the one
/// middleware (`observe`): a layer of its own costs a boxed future per request.
pub fn bound_body_waits(request: &mut ServiceRequest) {
    let payload = request.take_payload();
    if matches!(payload, Payload::None) {
        request.set_payload(payload);
    } else {
        let bounded = Bounded { payload, stall: Stall::after(STALL_TIMEOUT) };
        request.set_payload(Payload::Stream { payload: Box::pin(bounded) });
    }
}

/// Whether reading a body failed because it stalled.
pub fn is_stalled(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(io) if io.kind() == io::ErrorKind::TimedOut)
}

/// A payload whose every wait for its next piece is bounded.
struct Bounded {
    payload: Payload,
    /// No timer at all for a body that came with its head, as small ones do.
    stall: Stall,
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(piece) = Pin::new(&mut this.payload).poll_next(cx) {
            this.stall.progressed();
            return Poll::Ready(piece);
        }
        ready!(this.stall.poll_expired(cx));
        let why = format!("the request body stalled: nothing came for {} s", STALL_TIMEOUT.as_secs());
        Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(io::ErrorKind::TimedOut, why)))))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};
    use bytes::Bytes;
    use futures_util::StreamExt;

    use super::STALL_TIMEOUT;

    /// An app that reads a JSON body, and one that counts a raw body's bytes.
    macro_rules! app {
        () => {
            test::init_service(
                App::new()
                    .wrap(from_fn(crate::front::observe::observe))
                    .app_data(crate::server::json_config())
                    .route("/json", web::post().to(|_: web::Json<serde_json::Value>| async { "read whole" }))
                    .route(
                        "/raw",
                        web::post().to(|mut body: web::Payload| async move {
                            let mut read = 0;
                            while let Some(piece) = body.next().await {
                                read += piece.map_err(crate::api::problem::ApiError::from)?.len();
                            }
                            Ok::<_, crate::api::problem::ApiError>(read.to_string())
                        }),
                    ),
            )
            .await
        };
    }

    /// A body of `pieces`, each after its delay, then nothing more, ever.
    fn trickle(pieces: Vec<(Duration, &'static [u8])>, then_stop: bool) -> actix_web::dev::Payload {
        let stream = futures_util::stream::iter(pieces).then(|(delay, piece)| async move {
            tokio::time::sleep(delay).await;
            Ok::<_, actix_web::error::PayloadError>(Bytes::from_static(piece))
        });
        let stream = if then_stop {
            stream.chain(futures_util::stream::pending()).boxed_local()
        } else {
            stream.boxed_local()
        };
        actix_web::dev::Payload::Stream { payload: stream }
    }

    #[actix_web::test]
    async fn a_json_body_that_stalls_is_answered_with_a_request_timeout() {
        tokio::time::pause();
        let app = app!();
        let request = test::TestRequest::post()
            .uri("/json")
            .insert_header(("content-type", "application/json"))
            .insert_header(("content-length", "20"))
            .set_payload(Bytes::new())
            .to_request();
        let (request, _) = request.replace_payload(trickle(vec![(Duration::ZERO, b"{\"a\"")], true));
        let answer = test::call_service(&app, request).await;
        assert_eq!(answer.status(), 408);
        let body = test::read_body(answer).await;
        assert!(String::from_utf8_lossy(&body).contains("/problems/request-timeout"), "{body:?}");
    }

    #[actix_web::test]
    async fn a_slow_body_is_read_whole_while_each_piece_comes_in_time() {
        tokio::time::pause();
        let app = app!();
        let gap = STALL_TIMEOUT - Duration::from_secs(1);
        let pieces = vec![(gap, &b"abc"[..]), (gap, b"de"), (gap, b"f")];
        let request = test::TestRequest::post().uri("/raw").to_request();
        let (request, _) = request.replace_payload(trickle(pieces, false));
        let answer = test::call_service(&app, request).await;
        assert_eq!(answer.status(), 200);
        assert_eq!(test::read_body(answer).await, "6");
    }
}
