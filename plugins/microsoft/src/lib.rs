//! Microsoft identity platform (Entra ID v2) and Microsoft Graph.
//!
//! Config: `tenant` (default `common`; also `organizations`, `consumers`, a tenant
//! id or domain). Identity from Graph `/v1.0/me`. Microsoft has no RFC 7009
//! revocation endpoint, so revoke is unsupported (SecuriX still deletes the tokens).

use securix_plugin_sdk::{
    AuthorizeRequest, Config, Endpoints, Identity, Provider, ProviderError, ProviderInfo, TokenRequest, http,
    identity_from_json, oauth_error, register_provider,
};

pub struct Microsoft;

fn tenant(config: &Config) -> Result<&str, ProviderError> {
    let tenant = config.str("tenant").unwrap_or("common");
    let valid = !tenant.is_empty()
        && tenant.len() <= 128
        && tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if valid {
        Ok(tenant)
    } else {
        Err(ProviderError::InvalidConfig(format!("`tenant` {tenant:?} is not a tenant id or domain")))
    }
}

impl Provider for Microsoft {
    fn info() -> ProviderInfo {
        ProviderInfo::new("microsoft", "Microsoft")
            .hosts(&["login.microsoftonline.com", "graph.microsoft.com"])
            .client_auth_endpoints(&["https://login.microsoftonline.com/*/oauth2/v2.0/token"])
            .default_scopes(&["openid", "profile", "email", "offline_access", "User.Read"])
            .revoke(false)
    }

    fn endpoints(config: &Config) -> Result<Endpoints, ProviderError> {
        let base = format!("https://login.microsoftonline.com/{}/oauth2/v2.0", tenant(config)?);
        Ok(Endpoints::new(
            &format!("{base}/authorize"),
            &format!("{base}/token"),
            "https://graph.microsoft.com",
        )
        .userinfo("https://graph.microsoft.com/v1.0/me"))
    }

    fn extra_authorize_params(config: &Config, _request: &AuthorizeRequest) -> Vec<(String, String)> {
        let mut params = vec![("response_mode".to_owned(), "query".to_owned())];
        if let Some(prompt) = config.str("prompt") {
            params.push(("prompt".into(), prompt.into()));
        }
        params
    }

    fn identity(_config: &Config, request: &TokenRequest) -> Result<Identity, ProviderError> {
        let response = http::get_with_bearer("https://graph.microsoft.com/v1.0/me", &request.access_token)?;
        if !response.is_success() {
            return Err(oauth_error(&response));
        }
        let json = response.json()?;
        let mut identity = identity_from_json(&json, &["id"], "mail", "displayName")?;
        if identity.email.is_none() {
            identity.email = json.get("userPrincipalName").and_then(|v| v.as_str()).map(str::to_owned);
        }
        Ok(identity)
    }
}

register_provider!(Microsoft);
