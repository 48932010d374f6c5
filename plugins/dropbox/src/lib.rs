//! Dropbox, with offline (refreshable) tokens.
//!
//! `token_access_type=offline` asks for a refresh token; identity is the RPC
//! `users/get_current_account` (a POST with no body); revocation is
//! `auth/token/revoke` with the access token. Config: `apiBase` (default
//! `https://api.dropboxapi.com`; `https://content.dropboxapi.com` for file content).

use securix_plugin_sdk::{
    AuthorizeRequest, Config, Endpoints, Identity, Provider, ProviderError, ProviderInfo, RevokeRequest,
    TokenRequest, http, identity_from_json, oauth_error, register_provider,
};

pub struct Dropbox;

impl Provider for Dropbox {
    fn info() -> ProviderInfo {
        ProviderInfo::new("dropbox", "Dropbox")
            .hosts(&["www.dropbox.com", "api.dropboxapi.com", "content.dropboxapi.com"])
            .client_auth_endpoints(&["https://api.dropboxapi.com/oauth2/token"])
            .default_scopes(&["account_info.read"])
    }

    fn endpoints(config: &Config) -> Result<Endpoints, ProviderError> {
        let api_base = config.str("apiBase").unwrap_or("https://api.dropboxapi.com");
        Ok(Endpoints::new(
            "https://www.dropbox.com/oauth2/authorize",
            "https://api.dropboxapi.com/oauth2/token",
            api_base,
        ))
    }

    fn extra_authorize_params(_config: &Config, _request: &AuthorizeRequest) -> Vec<(String, String)> {
        vec![("token_access_type".into(), "offline".into())]
    }

    fn identity(_config: &Config, request: &TokenRequest) -> Result<Identity, ProviderError> {
        let url = "https://api.dropboxapi.com/2/users/get_current_account";
        let response = http::send("POST", url, vec![http::bearer(&request.access_token)], Vec::new())?;
        if !response.is_success() {
            return Err(oauth_error(&response));
        }
        let json = response.json()?;
        let mut identity = identity_from_json(&json, &["account_id"], "email", "")?;
        identity.name = json.pointer("/name/display_name").and_then(|v| v.as_str()).map(str::to_owned);
        Ok(identity)
    }

    fn revoke(_config: &Config, request: &RevokeRequest) -> Result<(), ProviderError> {
        let url = "https://api.dropboxapi.com/2/auth/token/revoke";
        let response = http::send("POST", url, vec![http::bearer(&request.access_token)], Vec::new())?;
        if response.is_success() { Ok(()) } else { Err(oauth_error(&response)) }
    }
}

register_provider!(Dropbox);
