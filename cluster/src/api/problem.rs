//! RFC 9457 problem documents: one mapping from engine errors to HTTP, with stable
//! `type`s and no internals in the body (details go to the log).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use securix_engine::EngineError;
use securix_engine::plugins::PluginError;
use serde::Serialize;

use securix_engine::http_client::HttpError;

use crate::front::body_stall;

const TYPE_BASE: &str = "https://securix.dev/problems/";

/// An RFC 9457 problem document (`application/problem+json`). Its `type` ends in
/// `/problems/<code>`; the code is stable, the title and detail are for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Problem {
    /// `https://securix.dev/problems/<code>`, e.g. `…/problems/not-found`.
    #[serde(rename = "type")]
    #[schema(format = "uri", examples("https://securix.dev/problems/not-found"))]
    kind: String,
    /// The same for every problem of this `type`.
    #[schema(examples("Not found"))]
    title: &'static str,
    /// The HTTP status of the answer.
    #[schema(minimum = 400, maximum = 599, examples(404))]
    status: u16,
    /// This occurrence, in words; never a secret or an internal detail.
    detail: String,
    /// `slow_down` only: seconds to wait between polls from now on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = u32)]
    interval: Option<u32>,
    /// `agent-not-allowed` only: what the agent's grant lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String, examples("method"))]
    refused: Option<&'static str>,
    /// `authorization-required` only: the device session begun for the user.
    #[serde(rename = "sessionId", skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    session_id: Option<String>,
    /// `authorization-required` only: the page to open, where the user enters
    /// `deviceAuthCode`.
    #[serde(rename = "authUrl", skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    auth_url: Option<String>,
    /// `authorization-required` only.
    #[serde(rename = "deviceAuthCode", skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    device_auth_code: Option<String>,
    /// `authorization-required` only: when the session ends.
    #[serde(rename = "expiresAt", skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String, format = DateTime)]
    expires_at: Option<String>,
}

/// `authorization-required`: where the user connects; retry once they have.
#[derive(Debug, Clone)]
struct Authorization {
    session_id: String,
    auth_url: String,
    device_auth_code: String,
    expires_at: String,
}

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    interval: Option<u32>,
    refused: Option<&'static str>,
    /// Boxed: rare, and an error travels in every handler's `Result`.
    authorization: Option<Box<Authorization>>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail: detail.into(),
            interval: None,
            refused: None,
            authorization: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", "Invalid request", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", detail)
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Request too large", detail)
    }

    pub fn request_timeout(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", "Request timeout", detail)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem's stable code: the end of its `type`.
    pub fn slug(&self) -> &'static str {
        self.slug
    }

    /// The problem document this error answers, as JSON.
    pub fn problem_json(&self) -> serde_json::Value {
        serde_json::to_value(self.problem()).unwrap_or_default()
    }

    fn problem(&self) -> Problem {
        Problem {
            kind: format!("{TYPE_BASE}{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            interval: self.interval,
            refused: self.refused,
            session_id: self.authorization.as_ref().map(|a| a.session_id.clone()),
            auth_url: self.authorization.as_ref().map(|a| a.auth_url.clone()),
            device_auth_code: self.authorization.as_ref().map(|a| a.device_auth_code.clone()),
            expires_at: self.authorization.as_ref().map(|a| a.expires_at.clone()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        HttpResponse::build(self.status).content_type("application/problem+json").json(problem)
    }
}

/// A request body that could not be read: it stalled (408) or broke its framing (400).
impl From<actix_web::error::PayloadError> for ApiError {
    fn from(error: actix_web::error::PayloadError) -> Self {
        let detail = error.to_string();
        if body_stall::is_stalled(&error) { Self::request_timeout(detail) } else { Self::bad_request(detail) }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        use StatusCode as S;
        let detail = error.to_string();
        match &error {
            EngineError::NotFound(_) => Self::new(S::NOT_FOUND, "not-found", "Not found", detail),
            EngineError::CredentialsRejected { .. } => {
                Self::new(S::UNPROCESSABLE_ENTITY, "credentials-rejected", "Credentials rejected", detail)
            }
            EngineError::Invalid(_) | EngineError::Param(_) | EngineError::Credential(_) => {
                Self::new(S::BAD_REQUEST, "invalid-request", "Invalid request", detail)
            }
            EngineError::Unauthorized => Self::new(S::UNAUTHORIZED, "unauthorized", "Unauthorized", detail),
            EngineError::Forbidden(_) => Self::new(S::FORBIDDEN, "forbidden", "Forbidden", detail),
            EngineError::AgentNotAllowed { refused, .. } => {
                let mut problem =
                    Self::new(S::FORBIDDEN, "agent-not-allowed", "Not granted to the agent", detail);
                problem.refused = Some(refused.code());
                problem
            }
            EngineError::AuthorizationRequired(session) => {
                let mut problem = Self::new(
                    S::FORBIDDEN,
                    "authorization-required",
                    "The user must authorize first",
                    detail,
                );
                problem.authorization = Some(Box::new(Authorization {
                    session_id: session.session_id.clone(),
                    auth_url: session.auth_url.clone(),
                    device_auth_code: session.device_auth_code.clone(),
                    expires_at: session.expires_at.rfc3339(),
                }));
                problem
            }
            EngineError::OtherBrowser(_) => {
                Self::new(S::FORBIDDEN, "other-browser", "Opened in another browser", detail)
            }
            EngineError::Conflict(_) => Self::new(S::CONFLICT, "conflict", "Conflict", detail),
            EngineError::Expired(_) => Self::new(S::GONE, "expired", "Expired", detail),
            EngineError::SlowDown { interval } => {
                let mut problem = Self::new(S::TOO_MANY_REQUESTS, "slow_down", "Slow down", detail);
                problem.interval = Some(*interval);
                problem
            }
            EngineError::RateLimited => {
                Self::new(S::TOO_MANY_REQUESTS, "rate-limited", "Too many requests", detail)
            }
            EngineError::ReauthRequired => {
                Self::new(S::CONFLICT, "reauth-required", "Authorization required again", detail)
            }
            EngineError::Provider(PluginError::UnknownPlugin(_)) => {
                Self::new(S::BAD_REQUEST, "unknown-provider", "Unknown provider", detail)
            }
            EngineError::Provider(PluginError::Unavailable { .. }) => Self::new(
                S::SERVICE_UNAVAILABLE,
                "plugin-unavailable",
                "The provider plugin is not loaded",
                detail,
            ),
            EngineError::Provider(PluginError::Provider { .. }) => {
                Self::new(S::BAD_GATEWAY, "provider-error", "The provider refused", detail)
            }
            EngineError::Provider(_) => {
                Self::new(S::BAD_GATEWAY, "plugin-error", "The provider plugin failed", detail)
            }
            EngineError::Upstream(cause) if !matches!(cause, HttpError::Timeout) => {
                // The chain of causes is for the log; the caller gets the code.
                tracing::warn!(error = ?cause, "an outbound call failed");
                Self::new(S::BAD_GATEWAY, "upstream-error", "Upstream error", detail)
            }
            EngineError::Upstream(_) => Self::new(
                S::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "The provider did not answer in time",
                detail,
            ),
            EngineError::RefreshBusy => {
                Self::new(S::SERVICE_UNAVAILABLE, "refresh-busy", "The connection is being refreshed", detail)
            }
            EngineError::Refused(_) => {
                Self::new(S::BAD_GATEWAY, "destination-refused", "The destination is not allowed", detail)
            }
            EngineError::Vault(securix_engine::vault::VaultError::Sealed) => {
                Self::new(S::SERVICE_UNAVAILABLE, "sealed", "The vault is sealed", detail)
            }
            EngineError::Vault(_) | EngineError::Store(_) | EngineError::Internal(_) => {
                tracing::error!(%error, "internal error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "something went wrong; the server log has the details",
                )
            }
        }
    }
}

/// The problem answers operations list in the OpenAPI document (`api::openapi`), one
/// per status, each naming the codes the mapping above gives that status.
pub mod responses {
    use super::Problem;

    macro_rules! problem_responses {
        ($($(#[doc = $doc:literal])+ $name:ident;)*) => {
            $(
                $(#[doc = $doc])+
                #[derive(utoipa::ToResponse)]
                #[response(content_type = "application/problem+json")]
                pub struct $name(#[allow(dead_code)] Problem);
            )*

            /// Every one of them, for the document's components.
            pub fn all() -> Vec<(&'static str, utoipa::openapi::RefOr<utoipa::openapi::Response>)> {
                vec![$(<$name as utoipa::ToResponse<'static>>::response()),*]
            }
        };
    }

    problem_responses! {
        /// `invalid-request`: a malformed body, path or query, a value out of range;
        /// `unknown-provider`: no plugin or catalog entry by that name.
        BadRequest;
        /// `unauthorized`: the credential header is missing or wrong.
        Unauthorized;
        /// `agent-not-allowed`: outside the agent's grant (`refused` says what);
        /// `authorization-required`: the user has not connected yet — the problem
        /// carries a device session's `sessionId`, `authUrl`, `deviceAuthCode` and
        /// `expiresAt` for them; retry once it completes;
        /// `forbidden`: not allowed (a wrong `sxc`, an origin not allowed);
        /// `other-browser`: a page or step opened in another browser.
        Forbidden;
        /// `not-found`: no such resource for this project (a foreign id answers the same).
        NotFound;
        /// `method-not-allowed`: the route takes another method (`/v1/mcp` opens no
        /// event stream: POST each message).
        MethodNotAllowed;
        /// `request-timeout`: the request body stalled.
        RequestTimeout;
        /// `conflict`: the state does not allow it; `reauth-required`: the connection
        /// needs the user to authorize again.
        Conflict;
        /// `expired`: the session or code has expired.
        Gone;
        /// `credentials-rejected`: the provider refused the credentials when they
        /// were checked (the problem names its status); nothing was stored.
        UnprocessableEntity;
        /// `too-large`: the body is over the limit (64 KiB of JSON; 10 MiB proxied).
        PayloadTooLarge;
        /// `slow_down`: polling faster than `interval` (the new interval, in seconds,
        /// is in the problem); `rate-limited`: too many attempts, try again later.
        TooManyRequests;
        /// `internal`: something went wrong; the server log has the details.
        Internal;
        /// `provider-error`: the provider refused; `plugin-error`: its plugin failed;
        /// `upstream-error`: it could not be reached; `destination-refused`: the
        /// outbound policy does not allow the destination.
        BadGateway;
        /// `sealed`: the vault is sealed; `refresh-busy`: another node is still
        /// refreshing the connection, try again shortly; `plugin-unavailable`: the
        /// provider plugin the integration needs did not load (the problem names it).
        ServiceUnavailable;
        /// `upstream-timeout`: the provider did not answer in time.
        GatewayTimeout;
    }
}

#[cfg(test)]
mod tests {
    use securix_engine::EngineError;
    use securix_engine::http_client::HttpError;
    use securix_engine::plugins::PluginError;

    use super::ApiError;

    /// Timeouts are the gateway's (504), a plugin's bad output and a broken provider
    /// are the provider side's (502): none of them blames the caller.
    #[test]
    fn outbound_failures_map_to_gateway_statuses_by_their_kind() {
        let cases = [
            (EngineError::Upstream(HttpError::Timeout), 504, "upstream-timeout"),
            (EngineError::Upstream(HttpError::Unreachable("refused".into())), 502, "upstream-error"),
            (
                EngineError::Provider(PluginError::BadOutput { plugin: "p".into(), what: "a header".into() }),
                502,
                "plugin-error",
            ),
            (EngineError::RefreshBusy, 503, "refresh-busy"),
            (
                EngineError::Provider(PluginError::OverCap {
                    plugin: "p".into(),
                    what: "a URL".into(),
                    limit: 8,
                }),
                502,
                "plugin-error",
            ),
            (
                EngineError::Provider(PluginError::SecretMisplaced {
                    plugin: "p".into(),
                    why: "a URL".into(),
                }),
                502,
                "plugin-error",
            ),
            (
                EngineError::Provider(PluginError::Unavailable {
                    plugin: "p".into(),
                    reason: "PL0006".into(),
                }),
                503,
                "plugin-unavailable",
            ),
        ];
        for (error, status, slug) in cases {
            let problem = ApiError::from(error);
            assert_eq!((problem.status().as_u16(), problem.slug()), (status, slug));
        }
    }
}
