//! The engine's one error type for its public operations. Each variant has a
//! stable code (`EN00xx`) and says which kind of failure it is, so the HTTP layer
//! maps it without looking inside. Messages never carry a secret.

use thiserror::Error;

use crate::model::RecordError;
use crate::plugins::PluginError;
use crate::store::{StoreError, TxError};
use crate::vault::VaultError;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("EN0001 {0} not found")]
    NotFound(&'static str),
    #[error("EN0002 invalid request: {0}")]
    Invalid(String),
    #[error("EN0003 missing or unknown API key")]
    Unauthorized,
    #[error("EN0004 forbidden: {0}")]
    Forbidden(String),
    #[error("EN0005 conflict: {0}")]
    Conflict(String),
    #[error("EN0006 {0} has expired")]
    Expired(&'static str),
    #[error("EN0007 polling too fast: wait {interval} s between polls")]
    SlowDown { interval: u32 },
    #[error("EN0008 too many attempts; try again later")]
    RateLimited,
    #[error("EN0009 the connection needs the user to authorize again")]
    ReauthRequired,
    #[error("EN0010 {0}")]
    Provider(#[from] PluginError),
    #[error("EN0011 {0}")]
    Vault(#[from] VaultError),
    #[error("EN0012 {0}")]
    Store(#[from] StoreError),
    /// An outbound call failed: its kind (a timeout, an unreachable provider) is typed.
    #[error("EN0013 upstream: {0}")]
    Upstream(#[from] crate::http_client::HttpError),
    #[error("EN0014 internal error: {0}")]
    Internal(#[from] InternalError),
    /// A session's page or provider step reached from a browser other than the one
    /// it is bound to. Nothing was changed.
    #[error("EN0015 this {0} belongs to another browser")]
    OtherBrowser(&'static str),
    /// An outbound call the outbound policy refuses (an internal address, a host
    /// the operator does not allow).
    #[error("EN0016 refused destination: {0}")]
    Refused(#[from] crate::policy::PolicyError),
    /// Another node holds this connection's refresh for longer than a call waits.
    #[error("EN0017 another node is still refreshing this connection; try again shortly")]
    RefreshBusy,
    /// A connection param's value refused, unknown or missing: the connect page asks again.
    #[error("EN0018 {0}")]
    Param(#[from] crate::catalog::ParamError),
    /// The provider refused the credentials at their verification (with this 4xx
    /// status, when it answered one of its own).
    #[error("EN0019 the provider refused these credentials{}", .status.map(|s| format!(": {s}")).unwrap_or_default())]
    CredentialsRejected { status: Option<u16> },
    /// Typed credentials that are missing a field, hold an unknown one or cannot be sent.
    #[error("EN0020 {0}")]
    Credential(#[from] crate::credentials::CredentialError),
    /// The calling agent's grant does not allow this; `refused` says what it lacks.
    #[error("EN0021 agent {agent_id:?} may not do this: {refused}")]
    AgentNotAllowed { agent_id: String, refused: crate::model::agent::Refused },
    /// The user has not connected (or must authorize again): the device session
    /// begun for them, whose link and code the agent hands over before retrying.
    #[error("EN0022 the user must authorize this first: open {} and enter the code", .0.auth_url)]
    AuthorizationRequired(Box<UserAsked>),
}

/// The device session an agent's user is asked to complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAsked {
    pub session_id: String,
    /// The page where the user enters `device_auth_code`.
    pub auth_url: String,
    pub device_auth_code: String,
    pub expires_at: crate::util::clock::Timestamp,
}

impl From<crate::credentials::verify::Rejection> for EngineError {
    fn from(rejection: crate::credentials::verify::Rejection) -> Self {
        use crate::credentials::verify::Rejection;
        match rejection {
            Rejection::Refused { status } => EngineError::CredentialsRejected { status: Some(status) },
            Rejection::Unavailable { status } => EngineError::Upstream(
                crate::http_client::HttpError::Unreachable(format!("the provider answered {status}").into()),
            ),
            Rejection::Unreachable(error) => EngineError::outbound(error),
            Rejection::Unusable(why) => EngineError::Invalid(why),
        }
    }
}

impl EngineError {
    /// An outbound failure, with the policy's refusal told apart.
    pub fn outbound(error: crate::http_client::HttpError) -> Self {
        match error {
            crate::http_client::HttpError::Refused(refused) => EngineError::Refused(refused),
            other => EngineError::Upstream(other),
        }
    }
}

/// What went wrong inside the engine: never the caller's doing, logged whole,
/// answered as a bare 500.
#[derive(Debug, Error)]
pub enum InternalError {
    #[error("the engine is shutting down")]
    ShuttingDown,
    #[error("an actor did not answer in time")]
    ActorTimeout,
    #[error("an actor failed twice on the same request")]
    ActorFailed,
    #[error("an actor could not start")]
    ActorStart(#[source] ractor::SpawnErr),
    #[error("no free device code could be drawn")]
    NoFreeDeviceCode,
    #[error("a stored record is corrupt")]
    Corrupt(#[source] RecordError),
    /// The shard's owner failed inside; its detail came as text over the mesh.
    #[error("on the shard's owner: {0}")]
    Remote(String),
    #[error("the engine needs a store")]
    NoStore,
}

impl From<RecordError> for EngineError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Store(e) => EngineError::Store(e),
            RecordError::Vault(e) => EngineError::Vault(e),
            RecordError::NotFound(what) => EngineError::NotFound(what),
            RecordError::Invalid { what, why } => EngineError::Invalid(format!("{what}: {why}")),
            RecordError::AlreadyExists(what) => EngineError::Conflict(format!("{what} already exists")),
            corrupt @ RecordError::Corrupt { .. } => EngineError::Internal(InternalError::Corrupt(corrupt)),
        }
    }
}

impl TxError for EngineError {
    fn as_store_error(&self) -> Option<&StoreError> {
        match self {
            EngineError::Store(error) | EngineError::Vault(VaultError::Store(error)) => Some(error),
            _ => None,
        }
    }
}

pub type EngineResult<T> = Result<T, EngineError>;
