//! Why an outbound call failed. Codes are stable; messages never carry the URL
//! (its query may hold a code or a token) nor anything the peer sent.

use thiserror::Error;

use crate::policy::PolicyError;

#[derive(Debug, Error)]
pub enum HttpError {
    /// No answer's head within the timeout, or a body that stopped coming.
    #[error("HC0001 the provider did not answer in time")]
    Timeout,
    /// No connection could be made (refused, no route, a failed TLS handshake).
    #[error("HC0002 the provider could not be reached")]
    Unreachable(#[source] BoxError),
    /// The connection broke off amid the exchange, or the peer broke HTTP.
    #[error("HC0003 the connection to the provider broke off")]
    BrokenOff(#[source] BoxError),
    /// The outbound policy refused where the call would go.
    #[error("HC0004 {0}")]
    Refused(#[from] PolicyError),
    /// The request could not be formed (a URL without a host, say).
    #[error("HC0005 malformed request: {0}")]
    Malformed(&'static str),
    /// The answer's body is larger than the caller takes.
    #[error("HC0006 the answer is larger than {0} bytes")]
    TooLarge(usize),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl HttpError {
    /// Sorts a failure to connect: the outbound policy's refusal, found anywhere in
    /// its chain of causes, or an unreachable provider.
    pub(super) fn of_connect(error: BoxError) -> HttpError {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(current) = cause {
            if let Some(refused) = current.downcast_ref::<PolicyError>() {
                return HttpError::Refused(refused.clone());
            }
            cause = current.source();
        }
        HttpError::Unreachable(error)
    }
}
