//! Plugin errors: what a provider said (typed, from RFC 6749 answers) and what
//! the sandbox stopped (CPU, memory, time, traps). Messages never carry secrets:
//! the host redacts the call's secrets from anything a plugin or provider says.

use thiserror::Error;

/// A provider's typed failure, as the plugin reported it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProviderFailure {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("access_denied: {0}")]
    AccessDenied(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("temporary failure: {0}")]
    Transient(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("protocol error: {0}")]
    Protocol(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PluginError {
    #[error("PL0001 provider `{plugin}`: {failure}")]
    Provider { plugin: String, failure: ProviderFailure },
    #[error("PL0002 plugin `{plugin}` used more than its {limit_ms} ms of CPU and was stopped")]
    CpuLimit { plugin: String, limit_ms: u64 },
    #[error(
        "PL0003 plugin `{plugin}` tried to use more than its {limit_bytes} bytes of memory and was stopped"
    )]
    MemoryLimit { plugin: String, limit_bytes: usize },
    #[error("PL0004 plugin `{plugin}` did not finish within {limit_ms} ms")]
    Timeout { plugin: String, limit_ms: u64 },
    #[error("PL0005 plugin `{plugin}` crashed: {message}")]
    Trap { plugin: String, message: String },
    #[error("PL0006 plugin speaks securix:provider@{found}; this host supports {supported}")]
    UnsupportedWitVersion { found: String, supported: String },
    #[error("PL0007 cannot load plugin: {0}")]
    Load(String),
    #[error("PL0008 no provider plugin `{0}` is loaded")]
    UnknownPlugin(String),
    /// What the plugin returned cannot be used as it is (a header that frames the
    /// request, a value with a line break): the plugin's fault, never the caller's.
    #[error("PL0009 plugin `{plugin}` returned {what}")]
    BadOutput { plugin: String, what: String },
    /// A value past its cap (the WIT documentation lists them).
    #[error("PL0010 plugin `{plugin}` returned {what} over its cap of {limit}")]
    OverCap { plugin: String, what: String, limit: usize },
    /// The client secret placeholder where the secret may not go (`client_secret.rs`).
    #[error("PL0011 plugin `{plugin}` tried to send the client secret where it may not go: {why}")]
    SecretMisplaced { plugin: String, why: String },
    /// The plugin an integration needs did not load (its file is named in the log).
    #[error("PL0012 provider plugin `{plugin}` is unavailable: {reason}")]
    Unavailable { plugin: String, reason: String },
}

impl PluginError {
    /// The stable code (`PL0006`), the first word of the message.
    pub fn code(&self) -> &'static str {
        match self {
            PluginError::Provider { .. } => "PL0001",
            PluginError::CpuLimit { .. } => "PL0002",
            PluginError::MemoryLimit { .. } => "PL0003",
            PluginError::Timeout { .. } => "PL0004",
            PluginError::Trap { .. } => "PL0005",
            PluginError::UnsupportedWitVersion { .. } => "PL0006",
            PluginError::Load(_) => "PL0007",
            PluginError::UnknownPlugin(_) => "PL0008",
            PluginError::BadOutput { .. } => "PL0009",
            PluginError::OverCap { .. } => "PL0010",
            PluginError::SecretMisplaced { .. } => "PL0011",
            PluginError::Unavailable { .. } => "PL0012",
        }
    }

    /// The plugin at fault, when one is.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            PluginError::Provider { plugin, .. }
            | PluginError::CpuLimit { plugin, .. }
            | PluginError::MemoryLimit { plugin, .. }
            | PluginError::Timeout { plugin, .. }
            | PluginError::Trap { plugin, .. }
            | PluginError::BadOutput { plugin, .. }
            | PluginError::OverCap { plugin, .. }
            | PluginError::SecretMisplaced { plugin, .. }
            | PluginError::Unavailable { plugin, .. } => Some(plugin),
            PluginError::UnknownPlugin(plugin) => Some(plugin),
            PluginError::UnsupportedWitVersion { .. } | PluginError::Load(_) => None,
        }
    }

    /// Worth retrying later (the provider's temporary trouble).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PluginError::Provider { failure: ProviderFailure::Transient(_), .. }
                | PluginError::Timeout { .. }
        )
    }

    /// The provider refused the grant: the user must authorize again.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, PluginError::Provider { failure: ProviderFailure::InvalidGrant(_), .. })
    }
}
