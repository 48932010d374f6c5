//! GitHub OAuth apps (and GitHub Apps' user tokens).
//!
//! GitHub answers token errors with HTTP 200 and `{"error": "bad_verification_code"}`;
//! its API needs a `User-Agent`; revocation is `DELETE /applications/{client_id}/grant`
//! with the client's Basic credentials.

use securix_plugin_sdk::{
    Config, Endpoints, Identity, Provider, ProviderError, ProviderInfo, RevokeRequest, TokenRequest, http,
    identity_from_json, oauth_error, register_provider,
};

const USER_AGENT: &str = "SecuriX";

pub struct GitHub;

/// GitHub's own error codes, mapped to the standard ones.
fn map_github_error(error: ProviderError) -> ProviderError {
    match error {
        ProviderError::Protocol(detail)
            if detail.starts_with("bad_verification_code") || detail.starts_with("bad_refresh_token") =>
        {
            ProviderError::InvalidGrant(detail)
        }
        ProviderError::Protocol(detail)
            if detail.starts_with("incorrect_client_credentials")
                || detail.starts_with("redirect_uri_mismatch") =>
        {
            ProviderError::InvalidClient(detail)
        }
        other => other,
    }
}

impl Provider for GitHub {
    fn info() -> ProviderInfo {
        ProviderInfo::new("github", "GitHub")
            .hosts(&["github.com", "api.github.com"])
            .client_auth_endpoints(&[
                "https://github.com/login/oauth/access_token",
                "https://api.github.com/applications/*/grant",
            ])
            .default_scopes(&["read:user", "user:email"])
    }

    fn endpoints(_config: &Config) -> Result<Endpoints, ProviderError> {
        Ok(Endpoints::new(
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            "https://api.github.com",
        )
        .userinfo("https://api.github.com/user"))
    }

    fn exchange_code(
        config: &Config,
        request: &securix_plugin_sdk::CodeExchange,
    ) -> Result<securix_plugin_sdk::TokenSet, ProviderError> {
        let mut grant = vec![
            ("grant_type", "authorization_code"),
            ("code", request.code.as_str()),
            ("redirect_uri", request.client.redirect_uri.as_str()),
        ];
        if let Some(verifier) = &request.code_verifier {
            grant.push(("code_verifier", verifier));
        }
        let response = Self::token_request(config, &request.client, &grant)?;
        securix_plugin_sdk::parse_token_response(&response).map_err(map_github_error)
    }

    fn refresh(
        config: &Config,
        request: &securix_plugin_sdk::RefreshRequest,
    ) -> Result<securix_plugin_sdk::TokenSet, ProviderError> {
        let grant = [("grant_type", "refresh_token"), ("refresh_token", request.refresh_token.as_str())];
        let response = Self::token_request(config, &request.client, &grant)?;
        securix_plugin_sdk::parse_token_response(&response).map_err(map_github_error)
    }

    fn identity(_config: &Config, request: &TokenRequest) -> Result<Identity, ProviderError> {
        let headers = vec![
            http::bearer(&request.access_token),
            http::custom_header("accept", "application/vnd.github+json"),
            http::custom_header("user-agent", USER_AGENT),
        ];
        let response = http::send("GET", "https://api.github.com/user", headers, Vec::new())?;
        if !response.is_success() {
            return Err(oauth_error(&response));
        }
        let mut identity = identity_from_json(&response.json()?, &["id"], "email", "name")?;
        if identity.name.is_none() {
            identity.name = response.json()?.get("login").and_then(|v| v.as_str()).map(str::to_owned);
        }
        Ok(identity)
    }

    fn revoke(_config: &Config, request: &RevokeRequest) -> Result<(), ProviderError> {
        let url = format!(
            "https://api.github.com/applications/{}/grant",
            securix_plugin_sdk::url::encode(&request.client.client_id)
        );
        let headers = vec![
            http::basic(&request.client.client_id, &request.client.client_secret),
            http::custom_header("accept", "application/vnd.github+json"),
            http::custom_header("content-type", "application/json"),
            http::custom_header("user-agent", USER_AGENT),
        ];
        let body = serde_json::json!({ "access_token": request.access_token }).to_string().into_bytes();
        let response = http::send("DELETE", &url, headers, body)?;
        // 404: the grant is already gone, which is what revocation wants.
        if response.is_success() || response.status == 404 { Ok(()) } else { Err(oauth_error(&response)) }
    }
}

register_provider!(GitHub);
