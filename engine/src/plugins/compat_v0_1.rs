//! Plugins built against `securix:provider@0.1.0`, run by a host that works in the
//! current version: their records are converted at the boundary, field for field.
//! What 0.1.0 cannot say is empty: such a plugin declares no client-auth endpoints,
//! so the host fills the client secret into requests to its static sites only.

use super::bindings::current::securix::provider::{host as now_host, types as now};
use super::bindings::v0_1_0::securix::provider::{host as old_host, types as old};

impl From<old::ProviderInfo> for now::ProviderInfo {
    fn from(info: old::ProviderInfo) -> Self {
        now::ProviderInfo {
            id: info.id,
            name: info.name,
            allowed_hosts: info.allowed_hosts,
            default_scopes: info.default_scopes,
            supports_pkce: info.supports_pkce,
            supports_refresh: info.supports_refresh,
            supports_revoke: info.supports_revoke,
            client_auth_endpoints: Vec::new(),
        }
    }
}

impl From<old::ConfigInfo> for now::ConfigInfo {
    fn from(info: old::ConfigInfo) -> Self {
        now::ConfigInfo { config: info.config, hosts: info.hosts, client_auth_endpoints: Vec::new() }
    }
}

impl From<now::Client> for old::Client {
    fn from(client: now::Client) -> Self {
        old::Client {
            client_id: client.client_id,
            client_secret: client.client_secret,
            redirect_uri: client.redirect_uri,
        }
    }
}

impl From<now::AuthorizeRequest> for old::AuthorizeRequest {
    fn from(r: now::AuthorizeRequest) -> Self {
        old::AuthorizeRequest {
            config: r.config,
            client: r.client.into(),
            scopes: r.scopes,
            state: r.state,
            code_challenge: r.code_challenge,
            login_hint: r.login_hint,
        }
    }
}

impl From<now::CodeExchange> for old::CodeExchange {
    fn from(r: now::CodeExchange) -> Self {
        old::CodeExchange {
            config: r.config,
            client: r.client.into(),
            code: r.code,
            code_verifier: r.code_verifier,
        }
    }
}

impl From<now::RefreshRequest> for old::RefreshRequest {
    fn from(r: now::RefreshRequest) -> Self {
        old::RefreshRequest {
            config: r.config,
            client: r.client.into(),
            refresh_token: r.refresh_token,
            scopes: r.scopes,
        }
    }
}

impl From<now::TokenRequest> for old::TokenRequest {
    fn from(r: now::TokenRequest) -> Self {
        old::TokenRequest { config: r.config, client: r.client.into(), access_token: r.access_token }
    }
}

impl From<now::RevokeRequest> for old::RevokeRequest {
    fn from(r: now::RevokeRequest) -> Self {
        old::RevokeRequest {
            config: r.config,
            client: r.client.into(),
            access_token: r.access_token,
            refresh_token: r.refresh_token,
        }
    }
}

impl From<old::TokenSet> for now::TokenSet {
    fn from(t: old::TokenSet) -> Self {
        now::TokenSet {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            id_token: t.id_token,
            token_type: t.token_type,
            expires_in: t.expires_in,
            scopes: t.scopes,
        }
    }
}

impl From<old::AccountIdentity> for now::AccountIdentity {
    fn from(i: old::AccountIdentity) -> Self {
        now::AccountIdentity { account_id: i.account_id, email: i.email, name: i.name }
    }
}

impl From<old::Header> for now::Header {
    fn from(h: old::Header) -> Self {
        now::Header { name: h.name, value: h.value }
    }
}

impl From<now::Header> for old::Header {
    fn from(h: now::Header) -> Self {
        old::Header { name: h.name, value: h.value }
    }
}

impl From<old::ApiTarget> for now::ApiTarget {
    fn from(t: old::ApiTarget) -> Self {
        now::ApiTarget { base_url: t.base_url, headers: t.headers.into_iter().map(Into::into).collect() }
    }
}

impl From<old::ProviderError> for now::ProviderError {
    fn from(e: old::ProviderError) -> Self {
        match e {
            old::ProviderError::InvalidConfig(m) => now::ProviderError::InvalidConfig(m),
            old::ProviderError::InvalidGrant(m) => now::ProviderError::InvalidGrant(m),
            old::ProviderError::InvalidClient(m) => now::ProviderError::InvalidClient(m),
            old::ProviderError::AccessDenied(m) => now::ProviderError::AccessDenied(m),
            old::ProviderError::InvalidScope(m) => now::ProviderError::InvalidScope(m),
            old::ProviderError::Transient(m) => now::ProviderError::Transient(m),
            old::ProviderError::Unsupported(m) => now::ProviderError::Unsupported(m),
            old::ProviderError::Protocol(m) => now::ProviderError::Protocol(m),
        }
    }
}

impl From<old::HttpRequest> for now::HttpRequest {
    fn from(r: old::HttpRequest) -> Self {
        now::HttpRequest {
            method: r.method,
            url: r.url,
            headers: r.headers.into_iter().map(Into::into).collect(),
            body: r.body,
        }
    }
}

impl From<now::HttpResponse> for old::HttpResponse {
    fn from(r: now::HttpResponse) -> Self {
        old::HttpResponse {
            status: r.status,
            headers: r.headers.into_iter().map(Into::into).collect(),
            body: r.body,
        }
    }
}

impl From<now::FetchError> for old::FetchError {
    fn from(e: now::FetchError) -> Self {
        match e {
            now::FetchError::Denied(m) => old::FetchError::Denied(m),
            now::FetchError::Timeout => old::FetchError::Timeout,
            now::FetchError::TooLarge => old::FetchError::TooLarge,
            now::FetchError::Network(m) => old::FetchError::Network(m),
            now::FetchError::Invalid(m) => old::FetchError::Invalid(m),
        }
    }
}

impl From<old_host::LogLevel> for now_host::LogLevel {
    fn from(level: old_host::LogLevel) -> Self {
        match level {
            old_host::LogLevel::Debug => now_host::LogLevel::Debug,
            old_host::LogLevel::Info => now_host::LogLevel::Info,
            old_host::LogLevel::Warn => now_host::LogLevel::Warn,
            old_host::LogLevel::Error => now_host::LogLevel::Error,
        }
    }
}

/// A 0.1.0 plugin's `host` imports: the current ones, converted.
impl old_host::Host for super::host_state::HostState {
    async fn fetch(&mut self, request: old::HttpRequest) -> Result<old::HttpResponse, old::FetchError> {
        now_host::Host::fetch(self, request.into()).await.map(Into::into).map_err(Into::into)
    }

    async fn log(&mut self, level: old_host::LogLevel, message: String) {
        now_host::Host::log(self, level.into(), message).await
    }
}

impl old::Host for super::host_state::HostState {}
