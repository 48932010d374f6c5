//! Google: Gmail, Drive, Calendar and the rest of Google's APIs.
//!
//! Offline access (`access_type=offline`, `prompt=consent`) so a refresh token is
//! always issued; identity from OpenID Connect userinfo; revocation at
//! `oauth2.googleapis.com/revoke`. Config: `apiBase` (default
//! `https://www.googleapis.com`, e.g. `https://gmail.googleapis.com`).

use securix_plugin_sdk::{
    AuthorizeRequest, Config, Endpoints, Provider, ProviderError, ProviderInfo, RevokeRequest, http,
    oauth_error, register_provider,
};

const API_HOSTS: &[&str] = &[
    "accounts.google.com",
    "oauth2.googleapis.com",
    "openidconnect.googleapis.com",
    "www.googleapis.com",
    "gmail.googleapis.com",
    "people.googleapis.com",
];

pub struct Google;

impl Provider for Google {
    fn info() -> ProviderInfo {
        ProviderInfo::new("google", "Google")
            .hosts(API_HOSTS)
            .client_auth_endpoints(&[
                "https://oauth2.googleapis.com/token",
                "https://oauth2.googleapis.com/revoke",
            ])
            .default_scopes(&["openid", "email", "profile"])
    }

    fn endpoints(config: &Config) -> Result<Endpoints, ProviderError> {
        let api_base = config.str("apiBase").unwrap_or("https://www.googleapis.com");
        Ok(Endpoints::new(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            api_base,
        )
        .userinfo("https://openidconnect.googleapis.com/v1/userinfo")
        .revocation("https://oauth2.googleapis.com/revoke"))
    }

    fn extra_authorize_params(_config: &Config, _request: &AuthorizeRequest) -> Vec<(String, String)> {
        vec![
            ("access_type".into(), "offline".into()),
            ("prompt".into(), "consent".into()),
            ("include_granted_scopes".into(), "true".into()),
        ]
    }

    /// Google's revoke endpoint takes the token alone, no client authentication.
    fn revoke(_config: &Config, request: &RevokeRequest) -> Result<(), ProviderError> {
        let token = request.refresh_token.as_deref().unwrap_or(&request.access_token);
        let response =
            http::post_form("https://oauth2.googleapis.com/revoke", &[("token", token)], Vec::new())?;
        if response.is_success() { Ok(()) } else { Err(oauth_error(&response)) }
    }
}

register_provider!(Google);
