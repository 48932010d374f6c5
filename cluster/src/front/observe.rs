//! The middleware, one layer: every request gets an id (`x-request-id` on its
//! answer), a tracing span around its handling, its count in the metrics, and
//! its body's waits bounded (`body_stall.rs`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::server::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn observe(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id();
    let id_text = std::str::from_utf8(&id).unwrap_or_default();
    let span = tracing::info_span!("http", method = %request.method(), path = %request.path(), request_id = %id_text);
    let state = request.app_data::<web::Data<AppState>>().cloned();
    super::body_stall::bound_body_waits(&mut request);
    let mut answer = next.call(request).instrument(span).await?;
    if let Some(state) = state {
        state.metrics.count(answer.status().as_u16());
    }
    if let Ok(value) = HeaderValue::from_bytes(&id) {
        answer.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(answer)
}

/// A request id: 16 hex digits from the thread's RNG (not a secret, so no syscall),
/// spelled out by hand: `format!` costs several times as much.
fn request_id() -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let random = rand::random::<u64>();
    std::array::from_fn(|at| HEX[(random >> (60 - 4 * at)) as usize & 0xf])
}

#[cfg(test)]
mod tests {
    use super::request_id;

    #[test]
    fn a_request_id_is_sixteen_hex_digits_drawn_afresh() {
        let ids: Vec<[u8; 16]> = (0..64).map(|_| request_id()).collect();
        for id in &ids {
            assert!(id.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)), "{id:?}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Every digit position takes more than one value: no fixed padding.
        for at in 0..16 {
            assert!(ids.iter().any(|id| id[at] != ids[0][at]), "digit {at}");
        }
    }
}
