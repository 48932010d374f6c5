//! Any standard OAuth 2.0 / OpenID Connect server, from configuration alone: an
//! operator's own, or a catalog entry (`catalog/*.toml`) the engine hands over as
//! configuration with the connection's params already filled in.
//!
//! Config (JSON; the catalog's field names, the older `…Endpoint` names still read):
//! - `discoveryUrl`: an OIDC discovery document; `validate-config` reads it once, or
//! - `authorizationUrl`, `tokenUrl`, and optionally `revocationUrl`, `identity`
//!   (`{url, method?, body?, accountId, email?, name?}`, dotted paths into the answer)
//!   or `userinfoEndpoint`;
//! - `apiBaseUrl`: where proxied calls go (default: the token endpoint's origin),
//!   `apiHeaders` sent with each, `accessToken` (`{in: "header", name, prefix?}`)
//!   where the token goes (default `Authorization: Bearer`);
//! - `clientAuth`: `form`/`client_secret_post` (default) or `basic`/`client_secret_basic`;
//! - `pkce` (default `true`, or `false` for a catalog entry), `scopeSeparator`,
//!   `authorizeParams`, `tokenParams`, `tokenPath` (where the token set sits),
//!   `refresh` (`none`: tokens cannot be refreshed);
//! - `authMode`: `oauth2_client_credentials` takes a token with the client alone.
//! - `accountIdField` (default `sub`), `emailField` (`email`), `nameField` (`name`).

use securix_plugin_sdk::{
    AuthorizeRequest, ClientAuth, CodeExchange, Config, ConfigInfo, Endpoints, Identity, Provider,
    ProviderError, ProviderInfo, ProxyTarget, RefreshRequest, TokenRequest, TokenSet, http,
    identity_from_json, oauth_error, parse_token_response_at, register_provider, url,
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

/// The first of `names` the configuration sets.
fn either<'a>(config: &'a Config, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| config.str(name))
}

fn required<'a>(config: &'a Config, names: &[&str]) -> Result<&'a str, ProviderError> {
    either(config, names).ok_or_else(|| ProviderError::InvalidConfig(format!("`{}` is required", names[0])))
}

/// A catalog entry (rather than an operator's own server).
fn from_catalog(config: &Config) -> bool {
    config.str("authMode").is_some()
}

fn client_credentials(config: &Config) -> bool {
    config.str("authMode") == Some("oauth2_client_credentials")
}

/// A field of the `identity` table.
fn identity_field<'a>(config: &'a Config, field: &str) -> Option<&'a str> {
    config.get("identity")?.get(field)?.as_str()
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

/// Posts a grant (with the entry's `tokenParams`) and reads the token set where it sits.
fn grant(
    config: &Config,
    client: &securix_plugin_sdk::Client,
    fields: &[(&str, &str)],
) -> Result<TokenSet, ProviderError> {
    let extra = config.pairs("tokenParams");
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    for (key, value) in &extra {
        match form.iter_mut().find(|(k, _)| k == key) {
            Some(field) => field.1 = value,
            None => form.push((key, value)),
        }
    }
    let response = GenericOAuth2::token_request(config, client, &form)?;
    parse_token_response_at(&response, config.str("tokenPath"))
}

impl Provider for GenericOAuth2 {
    fn info() -> ProviderInfo {
        // No fixed hosts: every host comes from the integration's configuration.
        ProviderInfo::new("oauth2", "OAuth 2.0 / OpenID Connect")
            .default_scopes(&["openid", "email", "profile"])
    }

    fn endpoints(config: &Config) -> Result<Endpoints, ProviderError> {
        let token = required(config, &["tokenUrl", "tokenEndpoint"])?;
        // A client-credentials entry has no consent page; its token URL stands in.
        let authorization = match either(config, &["authorizationUrl", "authorizationEndpoint"]) {
            Some(url) => url,
            None if client_credentials(config) => token,
            None => required(config, &["authorizationUrl", "authorizationEndpoint"])?,
        };
        let api_base = match config.str("apiBaseUrl") {
            Some(base) => base.to_owned(),
            None => origin(token)
                .ok_or_else(|| ProviderError::InvalidConfig("`tokenUrl` is not absolute".into()))?,
        };
        let mut endpoints = Endpoints::new(authorization, token, &api_base);
        if let Some(userinfo) = identity_field(config, "url").or_else(|| config.str("userinfoEndpoint")) {
            endpoints = endpoints.userinfo(userinfo);
        }
        if let Some(revocation) = either(config, &["revocationUrl", "revocationEndpoint"]) {
            endpoints = endpoints.revocation(revocation);
        }
        if let Some(separator) = config.str("scopeSeparator").and_then(|s| s.chars().next()) {
            endpoints = endpoints.scope_separator(separator);
        }
        Ok(endpoints)
    }

    fn client_auth(config: &Config) -> ClientAuth {
        match config.str("clientAuth") {
            Some("basic" | "client_secret_basic") => ClientAuth::ClientSecretBasic,
            _ => ClientAuth::ClientSecretPost,
        }
    }

    fn validate_config(config: &Config) -> Result<ConfigInfo, ProviderError> {
        let mut resolved = config.clone();
        if let Some(discovery_url) = config.str("discoveryUrl") {
            discover(&mut resolved, discovery_url)?;
        }
        match resolved.str("clientAuth") {
            None | Some("client_secret_post" | "client_secret_basic" | "form" | "basic") => {}
            Some(other) => {
                return Err(ProviderError::InvalidConfig(format!("`clientAuth` {other:?} is not supported")));
            }
        }
        if let Some(Value::Object(placement)) = resolved.get("accessToken")
            && placement.get("in").and_then(Value::as_str) != Some("header")
        {
            return Err(ProviderError::InvalidConfig("`accessToken` can only go in a header".into()));
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
        config.bool("pkce").unwrap_or(!from_catalog(config))
    }

    fn extra_authorize_params(config: &Config, _request: &AuthorizeRequest) -> Vec<(String, String)> {
        config.pairs("authorizeParams")
    }

    fn exchange_code(config: &Config, request: &CodeExchange) -> Result<TokenSet, ProviderError> {
        if client_credentials(config) {
            return Self::client_credentials_grant(config, &request.client);
        }
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", request.code.as_str()),
            ("redirect_uri", request.client.redirect_uri.as_str()),
        ];
        if let Some(verifier) = request.code_verifier.as_ref().filter(|_| Self::uses_pkce(config)) {
            fields.push(("code_verifier", verifier));
        }
        grant(config, &request.client, &fields)
    }

    fn refresh(config: &Config, request: &RefreshRequest) -> Result<TokenSet, ProviderError> {
        if client_credentials(config) {
            return Self::client_credentials_grant(config, &request.client);
        }
        if config.str("refresh") == Some("none") {
            return Err(ProviderError::Unsupported("this provider's tokens cannot be refreshed".into()));
        }
        grant(
            config,
            &request.client,
            &[("grant_type", "refresh_token"), ("refresh_token", &request.refresh_token)],
        )
    }

    fn identity(config: &Config, request: &TokenRequest) -> Result<Identity, ProviderError> {
        if client_credentials(config) {
            // The client is the account.
            return Ok(Identity { account_id: request.client.client_id.clone(), email: None, name: None });
        }
        let Some(url) = identity_field(config, "url").or_else(|| config.str("userinfoEndpoint")) else {
            // A catalog entry whose provider has no "who am I" call: one account per
            // entity and integration (a reconnect replaces it).
            if from_catalog(config) {
                return Ok(Identity { account_id: "default".into(), email: None, name: None });
            }
            return Err(ProviderError::Unsupported("no identity URL is configured".into()));
        };
        let method = identity_field(config, "method").unwrap_or("GET");
        let mut headers = Self::token_headers(config, &request.access_token);
        headers.push(http::custom_header("accept", "application/json"));
        let body = identity_field(config, "body").map(|b| b.as_bytes().to_vec()).unwrap_or_default();
        if !body.is_empty() {
            headers.push(http::custom_header("content-type", "application/json"));
        }
        let response = http::send(method, url, headers, body)?;
        if !response.is_success() {
            return Err(oauth_error(&response));
        }
        let id_field = identity_field(config, "accountId").or(config.str("accountIdField")).unwrap_or("sub");
        let email_field = identity_field(config, "email").or(config.str("emailField")).unwrap_or("email");
        let name_field = identity_field(config, "name").or(config.str("nameField")).unwrap_or("name");
        identity_from_json(&response.json()?, &[id_field], email_field, name_field)
    }

    fn proxy_target(config: &Config, request: &TokenRequest) -> Result<ProxyTarget, ProviderError> {
        let mut headers = Self::token_headers(config, &request.access_token);
        headers
            .extend(config.pairs("apiHeaders").iter().map(|(name, value)| http::custom_header(name, value)));
        Ok(ProxyTarget { base_url: Self::endpoints(config)?.api_base, headers })
    }
}

impl GenericOAuth2 {
    /// RFC 6749 §4.4: a token for the client itself, with the integration's scopes.
    fn client_credentials_grant(
        config: &Config,
        client: &securix_plugin_sdk::Client,
    ) -> Result<TokenSet, ProviderError> {
        let separator = Self::endpoints(config)?.scope_separator.to_string();
        let scopes = config
            .get("defaultScopes")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(&separator))
            .unwrap_or_default();
        let mut fields = vec![("grant_type", "client_credentials")];
        if !scopes.is_empty() {
            fields.push(("scope", scopes.as_str()));
        }
        grant(config, client, &fields)
    }

    /// The header that carries the access token (`accessToken`, or Bearer).
    fn token_headers(config: &Config, token: &str) -> Vec<securix_plugin_sdk::Header> {
        let placement = config.get("accessToken");
        let name = placement.and_then(|p| p.get("name")).and_then(Value::as_str);
        let prefix = placement.and_then(|p| p.get("prefix")).and_then(Value::as_str).unwrap_or("");
        match name {
            Some(name) => vec![http::custom_header(name, &format!("{prefix}{token}"))],
            None => vec![http::bearer(token)],
        }
    }
}

register_provider!(GenericOAuth2);
