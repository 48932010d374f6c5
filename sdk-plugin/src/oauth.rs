//! RFC 6749 answers: token responses and the standard error mapping.

use serde_json::Value;

use crate::http::Response;
use crate::{ProviderError, TokenSet};

/// Maps an error answer (`{"error": "invalid_grant", …}`, or a bare status) to a typed error.
pub fn provider_error_from_response(response: &Response) -> ProviderError {
    let json = response.json().ok();
    let code = json.as_ref().and_then(|j| j.get("error")).and_then(Value::as_str).unwrap_or("");
    let description = json
        .as_ref()
        .and_then(|j| j.get("error_description").or_else(|| j.get("message")))
        .and_then(Value::as_str)
        .unwrap_or(code);
    let detail =
        if description.is_empty() { format!("HTTP {}", response.status) } else { description.to_owned() };
    match code {
        "invalid_grant" => ProviderError::InvalidGrant(detail),
        "invalid_client" | "unauthorized_client" => ProviderError::InvalidClient(detail),
        "access_denied" => ProviderError::AccessDenied(detail),
        "invalid_scope" => ProviderError::InvalidScope(detail),
        "temporarily_unavailable" | "server_error" | "slow_down" => ProviderError::Transient(detail),
        _ if response.status == 429 || response.status >= 500 => ProviderError::Transient(detail),
        _ if response.status == 401 => ProviderError::InvalidClient(detail),
        _ => ProviderError::Protocol(format!("{code} {detail}").trim().to_owned()),
    }
}

/// The value at a dotted path (`user.id`; a number indexes an array: `0.id`).
pub fn lookup<'a>(json: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(json, |value, step| match value {
        Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => value.get(step),
    })
}

/// Granted scopes: RFC 6749 says space-separated; GitHub and Slack use commas.
pub(crate) fn scopes_from(value: Option<&Value>) -> Option<Vec<String>> {
    let text = value?.as_str()?;
    Some(text.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

/// Parses a standard token response; an error answer becomes a typed error.
pub fn parse_token_response(response: &Response) -> Result<TokenSet, ProviderError> {
    parse_token_response_at(response, None)
}

/// Like `parse_token_response`, for a token set nested at `path` in the answer
/// (Slack's `authed_user`, a `data` envelope).
pub fn parse_token_response_at(response: &Response, path: Option<&str>) -> Result<TokenSet, ProviderError> {
    if !response.is_success() {
        return Err(provider_error_from_response(response));
    }
    let answer = response.json()?;
    if answer.get("error").is_some() {
        return Err(provider_error_from_response(response));
    }
    let json = match path {
        Some(path) => lookup(&answer, path)
            .ok_or_else(|| ProviderError::Protocol(format!("the token response has no `{path}`")))?,
        None => &answer,
    };
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let access_token = text("access_token")
        .ok_or_else(|| ProviderError::Protocol("no access_token in the token response".into()))?;
    let expires_in = match json.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(TokenSet {
        access_token,
        refresh_token: text("refresh_token"),
        id_token: text("id_token"),
        token_type: text("token_type").unwrap_or_else(|| "Bearer".into()),
        expires_in,
        scopes: scopes_from(json.get("scope")),
    })
}
