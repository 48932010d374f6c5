//! Slack OAuth v2.
//!
//! Slack answers with HTTP 200 and `{"ok": false, "error": "invalid_code"}`, puts a
//! user token under `authed_user`, and separates scopes with commas. Config:
//! `tokenKind` = `bot` (default: `scope=`, the bot token) or `user` (`user_scope=`,
//! the user token).

use securix_plugin_sdk::{
    AuthorizeRequest, CodeExchange, Config, Endpoints, Identity, Provider, ProviderError, ProviderInfo,
    RefreshRequest, RevokeRequest, TokenRequest, TokenSet, http, register_provider, url,
};
use serde_json::Value;

pub struct Slack;

fn user_tokens(config: &Config) -> bool {
    config.str("tokenKind") == Some("user")
}

/// Slack's `{"ok": false, "error": …}` answers, mapped to typed errors.
fn slack_error(json: &Value, status: u16) -> ProviderError {
    let code = json.get("error").and_then(Value::as_str).unwrap_or("unknown_error").to_owned();
    match code.as_str() {
        "invalid_code"
        | "code_already_used"
        | "code_expired"
        | "invalid_refresh_token"
        | "token_revoked"
        | "token_expired" => ProviderError::InvalidGrant(code),
        "invalid_client_id" | "bad_client_secret" | "invalid_client" => ProviderError::InvalidClient(code),
        "bad_redirect_uri" => ProviderError::InvalidClient(code),
        "invalid_scope" | "invalid_scopes" => ProviderError::InvalidScope(code),
        "access_denied" => ProviderError::AccessDenied(code),
        "ratelimited" | "service_unavailable" | "internal_error" | "fatal_error" => {
            ProviderError::Transient(code)
        }
        _ if status == 429 || status >= 500 => ProviderError::Transient(code),
        _ => ProviderError::Protocol(code),
    }
}

/// Calls a Slack Web API method and returns its JSON when `ok` is true.
fn slack_call(response: http::Response) -> Result<Value, ProviderError> {
    let json = response.json()?;
    if json.get("ok").and_then(Value::as_bool) == Some(true) {
        Ok(json)
    } else {
        Err(slack_error(&json, response.status))
    }
}

fn token_set(config: &Config, json: &Value) -> Result<TokenSet, ProviderError> {
    let source = if user_tokens(config) { json.get("authed_user").unwrap_or(&Value::Null) } else { json };
    let text = |key: &str| source.get(key).and_then(Value::as_str).map(str::to_owned);
    let access_token = text("access_token")
        .ok_or_else(|| ProviderError::Protocol("no access_token in Slack's answer".into()))?;
    Ok(TokenSet {
        access_token,
        refresh_token: text("refresh_token"),
        id_token: None,
        token_type: "Bearer".into(),
        expires_in: source.get("expires_in").and_then(Value::as_u64),
        scopes: text("scope").map(|s| s.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()),
    })
}

impl Provider for Slack {
    fn info() -> ProviderInfo {
        ProviderInfo::new("slack", "Slack")
            .hosts(&["slack.com"])
            .client_auth_endpoints(&["https://slack.com/api/oauth.v2.access"])
            .pkce(false)
    }

    fn endpoints(_config: &Config) -> Result<Endpoints, ProviderError> {
        Ok(Endpoints::new(
            "https://slack.com/oauth/v2/authorize",
            "https://slack.com/api/oauth.v2.access",
            "https://slack.com/api",
        )
        .scope_separator(','))
    }

    fn authorize_url(config: &Config, request: &AuthorizeRequest) -> Result<String, ProviderError> {
        let scopes = request.scopes.join(",");
        let scope_param = if user_tokens(config) { "user_scope" } else { "scope" };
        let pairs = [
            ("client_id", request.client.client_id.as_str()),
            (scope_param, scopes.as_str()),
            ("redirect_uri", request.client.redirect_uri.as_str()),
            ("state", request.state.as_str()),
        ];
        Ok(url::with_query("https://slack.com/oauth/v2/authorize", &pairs))
    }

    fn exchange_code(config: &Config, request: &CodeExchange) -> Result<TokenSet, ProviderError> {
        let grant = [("code", request.code.as_str()), ("redirect_uri", request.client.redirect_uri.as_str())];
        let json = slack_call(Self::token_request(config, &request.client, &grant)?)?;
        token_set(config, &json)
    }

    fn refresh(config: &Config, request: &RefreshRequest) -> Result<TokenSet, ProviderError> {
        let grant = [("grant_type", "refresh_token"), ("refresh_token", request.refresh_token.as_str())];
        let json = slack_call(Self::token_request(config, &request.client, &grant)?)?;
        token_set(config, &json)
    }

    fn identity(_config: &Config, request: &TokenRequest) -> Result<Identity, ProviderError> {
        let response = http::send(
            "POST",
            "https://slack.com/api/auth.test",
            vec![http::bearer(&request.access_token)],
            Vec::new(),
        )?;
        let json = slack_call(response)?;
        let field = |key: &str| json.get(key).and_then(Value::as_str).unwrap_or("");
        if field("team_id").is_empty() || field("user_id").is_empty() {
            return Err(ProviderError::Protocol("auth.test named no team or user".into()));
        }
        Ok(Identity {
            account_id: format!("{}:{}", field("team_id"), field("user_id")),
            email: None,
            name: Some(format!("{} ({})", field("user"), field("team"))),
        })
    }

    fn revoke(_config: &Config, request: &RevokeRequest) -> Result<(), ProviderError> {
        let response = http::send(
            "GET",
            "https://slack.com/api/auth.revoke",
            vec![http::bearer(&request.access_token)],
            Vec::new(),
        )?;
        slack_call(response).map(|_| ())
    }
}

register_provider!(Slack);
