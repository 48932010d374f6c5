//! The engine's view of plugin results: plain Rust types, with tokens as
//! `SecretString` the moment they leave the sandbox.

use crate::util::secret::SecretString;

/// Static facts a plugin reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    pub id: String,
    pub name: String,
    pub allowed_hosts: Vec<String>,
    pub default_scopes: Vec<String>,
    pub supports_pkce: bool,
    pub supports_refresh: bool,
    pub supports_revoke: bool,
    /// Where the OAuth client authenticates (token, revocation): the only requests
    /// that may carry its secret.
    pub client_auth_endpoints: Vec<String>,
    /// The WIT version the plugin was built against.
    pub wit: String,
}

/// An integration's configuration after the plugin checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedConfig {
    /// Normalized JSON to store.
    pub config: String,
    /// Sites this configuration needs besides the plugin's static ones.
    pub hosts: Vec<String>,
    /// Where the client authenticates for this configuration (checked: declared by
    /// the plugin, or named by the operator's configuration or its discovery document).
    pub client_auth_endpoints: Vec<String>,
}

/// The OAuth client of an integration.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
}

/// An integration as a call needs it: configuration, declared hosts and client.
#[derive(Debug, Clone)]
pub struct CallTarget {
    pub config: String,
    pub hosts: Vec<String>,
    /// `ValidatedConfig::client_auth_endpoints`.
    pub client_auth_endpoints: Vec<String>,
    pub client: OAuthClient,
    /// Fields of the token answer to read (dotted paths): connection params the
    /// provider names only there (Salesforce's `instance_url`).
    pub token_fields: Vec<String>,
}

/// Tokens as the provider issued them.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<SecretString>,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub scopes: Option<Vec<String>>,
    /// The `CallTarget::token_fields` the token answer held, by path (never a token).
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountIdentity {
    pub account_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Where proxied calls go and the headers that carry the token.
#[derive(Clone)]
pub struct ApiTarget {
    pub base_url: String,
    pub headers: Vec<(String, SecretString)>,
}

impl std::fmt::Debug for ApiTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ApiTarget").field("base_url", &self.base_url).field("header_names", &names).finish()
    }
}

/// What the browser is sent to for consent.
#[derive(Debug, Clone)]
pub struct AuthorizeParams {
    pub scopes: Vec<String>,
    pub state: String,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
}
