//! Checks on what a plugin returns, before the host uses it: every value has a
//! cap (the WIT documentation lists them), and headers it asks the proxy to send
//! must not frame the request or split its head. A plugin past a check fails its
//! call with a plugin error; nothing it returned is kept. The caps keep a whole
//! token set with its scopes well inside one stored record (100 kB).

use super::PluginError;
use super::bindings::current::securix::provider::types as wit;

pub const MAX_URL: usize = 8 << 10;
pub const MAX_HEADER_NAME: usize = 256;
pub const MAX_HEADER_VALUE: usize = 8 << 10;
pub const MAX_HEADERS: usize = 32;
pub const MAX_TOKEN: usize = 8 << 10;
pub const MAX_TOKEN_TYPE: usize = 64;
pub const MAX_SCOPES: usize = 128;
pub const MAX_SCOPE: usize = 128;
pub const MAX_IDENTITY_FIELD: usize = 1 << 10;
pub const MAX_CONFIG: usize = 64 << 10;
pub const MAX_LIST: usize = 64;
pub const MAX_NAME: usize = 256;
pub const MAX_MESSAGE: usize = 4 << 10;
/// The most one answer may carry into the host, all values together (a `fetch`
/// request may carry its body's cap more).
pub const MAX_LIFTED: usize = 1 << 20;

/// Caps on one plugin's answers.
pub(crate) struct Caps<'a> {
    pub plugin: &'a str,
}

impl Caps<'_> {
    fn over(&self, what: &str, limit: usize) -> PluginError {
        PluginError::OverCap { plugin: self.plugin.to_owned(), what: what.to_owned(), limit }
    }

    pub fn text(&self, what: &str, value: &str, limit: usize) -> Result<(), PluginError> {
        if value.len() > limit { Err(self.over(what, limit)) } else { Ok(()) }
    }

    pub fn list<T>(&self, what: &str, items: &[T], limit: usize) -> Result<(), PluginError> {
        if items.len() > limit { Err(self.over(&format!("more {what} than"), limit)) } else { Ok(()) }
    }

    pub fn info(&self, info: &wit::ProviderInfo) -> Result<(), PluginError> {
        self.text("a name", &info.name, MAX_NAME)?;
        self.list("sites", &info.allowed_hosts, MAX_LIST)?;
        self.list("client-auth endpoints", &info.client_auth_endpoints, MAX_LIST)?;
        self.scopes(&info.default_scopes)?;
        for url in info.allowed_hosts.iter().chain(&info.client_auth_endpoints) {
            self.text("a site or endpoint", url, MAX_URL)?;
        }
        Ok(())
    }

    pub fn config(&self, config: &wit::ConfigInfo) -> Result<(), PluginError> {
        self.text("a configuration", &config.config, MAX_CONFIG)?;
        self.list("sites", &config.hosts, MAX_LIST)?;
        self.list("client-auth endpoints", &config.client_auth_endpoints, MAX_LIST)?;
        for url in config.hosts.iter().chain(&config.client_auth_endpoints) {
            self.text("a site or endpoint", url, MAX_URL)?;
        }
        Ok(())
    }

    fn scopes(&self, scopes: &[String]) -> Result<(), PluginError> {
        self.list("scopes", scopes, MAX_SCOPES)?;
        scopes.iter().try_for_each(|scope| self.text("a scope", scope, MAX_SCOPE))
    }

    pub fn tokens(&self, tokens: &wit::TokenSet) -> Result<(), PluginError> {
        self.text("an access token", &tokens.access_token, MAX_TOKEN)?;
        if let Some(refresh) = &tokens.refresh_token {
            self.text("a refresh token", refresh, MAX_TOKEN)?;
        }
        if let Some(id) = &tokens.id_token {
            self.text("an id token", id, MAX_TOKEN)?;
        }
        self.text("a token type", &tokens.token_type, MAX_TOKEN_TYPE)?;
        tokens.scopes.as_deref().map_or(Ok(()), |scopes| self.scopes(scopes))
    }

    pub fn identity(&self, identity: &wit::AccountIdentity) -> Result<(), PluginError> {
        self.text("an account id", &identity.account_id, MAX_IDENTITY_FIELD)?;
        for field in [&identity.email, &identity.name].into_iter().flatten() {
            self.text("an email or name", field, MAX_IDENTITY_FIELD)?;
        }
        Ok(())
    }

    /// The proxy's target: a capped URL, and headers that are well formed and
    /// leave framing to the HTTP client.
    pub fn api_target(&self, api: &wit::ApiTarget) -> Result<(), PluginError> {
        self.text("a base URL", &api.base_url, MAX_URL)?;
        self.list("headers", &api.headers, MAX_HEADERS)?;
        for header in &api.headers {
            self.text("a header name", &header.name, MAX_HEADER_NAME)?;
            self.text("a header value", &header.value, MAX_HEADER_VALUE)?;
            if let Some(what) = unusable_header(&header.name, &header.value) {
                return Err(PluginError::BadOutput { plugin: self.plugin.to_owned(), what });
            }
        }
        Ok(())
    }
}

/// A message from a plugin, cut to its cap (at a character boundary).
pub fn cut_message(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// Headers that frame a message or manage its connection: the HTTP client's alone.
const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Why a header a plugin asks to send cannot go out, if it cannot: a malformed
/// name or value, or a name that frames the request.
pub(crate) fn unusable_header(name: &str, value: &str) -> Option<String> {
    let Ok(parsed) = hyper::header::HeaderName::from_bytes(name.as_bytes()) else {
        return Some("a malformed header name".to_owned());
    };
    if FRAMING_HEADERS.contains(&parsed.as_str()) {
        return Some(format!("the header {parsed}, which only the HTTP client sets"));
    }
    if hyper::header::HeaderValue::from_str(value).is_err() {
        return Some(format!("a value for {parsed} with control characters"));
    }
    None
}
