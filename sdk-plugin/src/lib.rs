//! Write a SecuriX provider plugin in plain Rust.
//!
//! Implement [`Provider`] — usually just [`Provider::info`] and
//! [`Provider::endpoints`]; the defaults speak standard RFC 6749 (form-encoded
//! token requests, `Bearer` injection, standard error mapping) — and register it:
//!
//! ```ignore
//! use securix_plugin_sdk::{Config, Endpoints, Provider, ProviderError, ProviderInfo, register_provider};
//!
//! struct Acme;
//!
//! impl Provider for Acme {
//!     fn info() -> ProviderInfo {
//!         ProviderInfo::new("acme", "Acme").hosts(&["auth.acme.example", "api.acme.example"])
//!     }
//!     fn endpoints(_config: &Config) -> Result<Endpoints, ProviderError> {
//!         Ok(Endpoints::new("https://auth.acme.example/authorize", "https://auth.acme.example/token",
//!                           "https://api.acme.example"))
//!     }
//! }
//!
//! register_provider!(Acme);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the plugin.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/v0.2.0",
        world: "provider-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_provider_plugin",
        default_bindings_module: "securix_plugin_sdk::bindings",
        generate_all,
    });
}

mod config;
pub mod http;
mod oauth;
mod provider;
pub mod url;

pub use bindings::securix::provider::host::LogLevel;
pub use bindings::securix::provider::types::{
    AccountIdentity as Identity, ApiTarget as ProxyTarget, AuthorizeRequest, Client, CodeExchange,
    ConfigInfo, Header, ProviderError, ProviderInfo, RefreshRequest, RevokeRequest, TokenRequest, TokenSet,
};
pub use config::Config;
pub use oauth::{
    lookup, parse_token_response, parse_token_response_at, provider_error_from_response as oauth_error,
};
pub use provider::{ClientAuth, Endpoints, Provider, identity_from_json};

/// The WIT package version this SDK builds plugins for.
pub const WIT_VERSION: &str = "0.2.0";

/// Writes a line to the host's log (rate-limited and redacted by the host).
pub fn log(level: LogLevel, message: &str) {
    bindings::securix::provider::host::log(level, message);
}

impl ProviderInfo {
    /// Info with the common defaults: PKCE, refresh and revoke supported, no hosts yet.
    pub fn new(id: &str, name: &str) -> Self {
        ProviderInfo {
            id: id.to_owned(),
            name: name.to_owned(),
            allowed_hosts: Vec::new(),
            default_scopes: Vec::new(),
            supports_pkce: true,
            supports_refresh: true,
            supports_revoke: true,
            client_auth_endpoints: Vec::new(),
        }
    }

    /// The sites the plugin calls: `host` (https on 443), `host:port`, or an origin.
    pub fn hosts(mut self, hosts: &[&str]) -> Self {
        self.allowed_hosts = hosts.iter().map(|h| (*h).to_owned()).collect();
        self
    }

    /// Where the client authenticates (token, revocation): the only requests the host
    /// fills the client secret into. `*` stands for one path segment.
    pub fn client_auth_endpoints(mut self, urls: &[&str]) -> Self {
        self.client_auth_endpoints = urls.iter().map(|u| (*u).to_owned()).collect();
        self
    }

    pub fn default_scopes(mut self, scopes: &[&str]) -> Self {
        self.default_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    pub fn pkce(mut self, supported: bool) -> Self {
        self.supports_pkce = supported;
        self
    }

    pub fn refresh(mut self, supported: bool) -> Self {
        self.supports_refresh = supported;
        self
    }

    pub fn revoke(mut self, supported: bool) -> Self {
        self.supports_revoke = supported;
        self
    }
}

/// Exports a [`Provider`] implementation as the plugin's `provider` interface.
#[macro_export]
macro_rules! register_provider {
    ($provider:ty) => {
        #[doc(hidden)]
        pub struct __SecurixProviderExport;

        impl $crate::bindings::exports::securix::provider::provider::Guest for __SecurixProviderExport {
            fn info() -> $crate::ProviderInfo {
                <$provider as $crate::Provider>::info()
            }
            fn validate_config(config: String) -> Result<$crate::ConfigInfo, $crate::ProviderError> {
                <$provider as $crate::Provider>::validate_config(&$crate::Config::parse(&config)?)
            }
            fn authorize_url(request: $crate::AuthorizeRequest) -> Result<String, $crate::ProviderError> {
                <$provider as $crate::Provider>::authorize_url(&$crate::Config::parse(&request.config)?, &request)
            }
            fn exchange_code(request: $crate::CodeExchange) -> Result<$crate::TokenSet, $crate::ProviderError> {
                <$provider as $crate::Provider>::exchange_code(&$crate::Config::parse(&request.config)?, &request)
            }
            fn refresh(request: $crate::RefreshRequest) -> Result<$crate::TokenSet, $crate::ProviderError> {
                <$provider as $crate::Provider>::refresh(&$crate::Config::parse(&request.config)?, &request)
            }
            fn identity(request: $crate::TokenRequest) -> Result<$crate::Identity, $crate::ProviderError> {
                <$provider as $crate::Provider>::identity(&$crate::Config::parse(&request.config)?, &request)
            }
            fn proxy_target(request: $crate::TokenRequest) -> Result<$crate::ProxyTarget, $crate::ProviderError> {
                <$provider as $crate::Provider>::proxy_target(&$crate::Config::parse(&request.config)?, &request)
            }
            fn revoke(request: $crate::RevokeRequest) -> Result<(), $crate::ProviderError> {
                <$provider as $crate::Provider>::revoke(&$crate::Config::parse(&request.config)?, &request)
            }
        }

        $crate::bindings::__export_provider_plugin!(__SecurixProviderExport with_types_in $crate::bindings);
    };
}
