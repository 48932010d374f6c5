//! Any standard OAuth 2.0 / OpenID Connect server, from configuration alone.
//!
//! Config (JSON):
//! - `discoveryUrl`: an OIDC discovery document (`…/.well-known/openid-configuration`);
//!   `validate-config` reads it once and stores the endpoints it names, or
//! - `authorizationEndpoint`, `tokenEndpoint`, and optionally `userinfoEndpoint`,
//!   `revocationEndpoint`;
//! - `apiBaseUrl`: where proxied calls go (default: the token endpoint's origin);
//! - `clientAuth`: `client_secret_post` (default) or `client_secret_basic`;
//! - `pkce`: `false` to leave PKCE out (default `true`);
//! - `accountIdField` (default `sub`), `emailField` (`email`), `nameField` (`name`).

use securix_plugin_sdk::{
    ClientAuth, Config, ConfigInfo, Endpoints, Identity, Provider, ProviderError, ProviderInfo, TokenRequest,
    http, identity_from_json, oauth_error, register_provider, url,
};
use serde_json::Value;

pub struct GenericOAuth2;

/// The origin (`https://host:port`) of an absolute URL.
fn origin(url: &str) -> Option<String> {
    let scheme_end = url.find("://")? + 3;
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(format!("{}{}", &url[..scheme_end], &rest[..authority_end]))
}

/// Reads the discovery document into the configuration's endpoint fields.
fn discover(config: &mut Config, discovery_url: &str) -> Result<(), ProviderError> {
    let response = http::send(
        "GET",
        discovery_url,
        vec![http::custom_header("accept", "application/json")],
        Vec::new(),
    )?;
    if !response.is_success() {
        return Err(ProviderError::InvalidConfig(format!(
            "discovery document answered HTTP {}",
            response.status
        )));
    }
    let document = response.json()?;
    let field = |name: &str| document.get(name).and_then(Value::as_str).map(str::to_owned);
    for (ours, theirs) in [
        ("authorizationEndpoint", "authorization_endpoint"),
        ("tokenEndpoint", "token_endpoint"),
        ("userinfoEndpoint", "userinfo_endpoint"),
        ("revocationEndpoint", "revocation_endpoint"),
        ("issuer", "issuer"),
    ] {
        if let (None, Some(value)) = (config.str(ours), field(theirs)) {
            config.set(ours, value);
        }
    }
    Ok(())
}

impl Provider for GenericOAuth2 {
    fn info() -> ProviderInfo {
        // No fixed hosts: every host comes from the integration's configuration.
        ProviderInfo::new("oauth2", "OAuth 2.0 / OpenID Connect")
            .default_scopes(&["openid", "email", "profile"])
    }

    fn endpoints(config: &Config) -> Result<Endpoints, ProviderError> {
        let authorization = config.required("authorizationEndpoint")?;
        let token = config.required("tokenEndpoint")?;
        let api_base = match config.str("apiBaseUrl") {
            Some(base) => base.to_owned(),
            None => origin(token)
                .ok_or_else(|| ProviderError::InvalidConfig("`tokenEndpoint` is not absolute".into()))?,
        };
        let mut endpoints = Endpoints::new(authorization, token, &api_base);
        if let Some(userinfo) = config.str("userinfoEndpoint") {
            endpoints = endpoints.userinfo(userinfo);
        }
        if let Some(revocation) = config.str("revocationEndpoint") {
            endpoints = endpoints.revocation(revocation);
        }
        Ok(endpoints)
    }

    fn client_auth(config: &Config) -> ClientAuth {
        match config.str("clientAuth") {
            Some("client_secret_basic") => ClientAuth::ClientSecretBasic,
            _ => ClientAuth::ClientSecretPost,
        }
    }

    fn validate_config(config: &Config) -> Result<ConfigInfo, ProviderError> {
        let mut resolved = config.clone();
        if let Some(discovery_url) = config.str("discoveryUrl") {
            discover(&mut resolved, discovery_url)?;
        }
        match resolved.str("clientAuth") {
            None | Some("client_secret_post") | Some("client_secret_basic") => {}
            Some(other) => {
                return Err(ProviderError::InvalidConfig(format!("`clientAuth` {other:?} is not supported")));
            }
        }
        let endpoints = Self::endpoints(&resolved)?;
        for url in [&endpoints.authorization, &endpoints.token, &endpoints.api_base] {
            if url::host_of(url).is_none() {
                return Err(ProviderError::InvalidConfig(format!("`{url}` is not an absolute URL")));
            }
        }
        Ok(ConfigInfo {
            config: resolved.to_json(),
            hosts: endpoints.hosts(),
            client_auth_endpoints: endpoints.client_auth(),
        })
    }

    fn uses_pkce(config: &Config) -> bool {
        config.bool("pkce").unwrap_or(true)
    }

    fn identity(config: &Config, request: &TokenRequest) -> Result<Identity, ProviderError> {
        let url = config
            .str("userinfoEndpoint")
            .ok_or_else(|| ProviderError::Unsupported("no userinfoEndpoint is configured".into()))?;
        let response = http::get_with_bearer(url, &request.access_token)?;
        if !response.is_success() {
            return Err(oauth_error(&response));
        }
        let id_field = config.str("accountIdField").unwrap_or("sub");
        let email_field = config.str("emailField").unwrap_or("email");
        let name_field = config.str("nameField").unwrap_or("name");
        identity_from_json(&response.json()?, &[id_field], email_field, name_field)
    }
}

register_provider!(GenericOAuth2);
