//! The `Provider` trait: a plugin's behaviour, with RFC 6749 defaults.

use serde_json::Value;

use crate::http::{self, Response};
use crate::url::{host_of, site_of, with_query};
use crate::{
    AuthorizeRequest, Client, CodeExchange, Config, ConfigInfo, Header, Identity, ProviderError,
    ProviderInfo, ProxyTarget, RefreshRequest, RevokeRequest, TokenRequest, TokenSet, oauth,
};

/// How the OAuth client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// HTTP Basic with the form-encoded id and secret.
    ClientSecretBasic,
}

/// Where a provider's OAuth endpoints and API live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    /// The API base URL proxied calls go to.
    pub api_base: String,
    /// OIDC userinfo (or an equivalent "who am I" URL).
    pub userinfo: Option<String>,
    /// RFC 7009 revocation.
    pub revocation: Option<String>,
    /// What joins scopes in the `scope` parameter (a space, per RFC 6749).
    pub scope_separator: char,
}

impl Endpoints {
    pub fn new(authorization: &str, token: &str, api_base: &str) -> Self {
        Endpoints {
            authorization: authorization.to_owned(),
            token: token.to_owned(),
            api_base: api_base.to_owned(),
            userinfo: None,
            revocation: None,
            scope_separator: ' ',
        }
    }

    pub fn userinfo(mut self, url: &str) -> Self {
        self.userinfo = Some(url.to_owned());
        self
    }

    pub fn revocation(mut self, url: &str) -> Self {
        self.revocation = Some(url.to_owned());
        self
    }

    /// Where the client authenticates: the token endpoint and, if any, revocation.
    pub fn client_auth(&self) -> Vec<String> {
        std::iter::once(self.token.clone()).chain(self.revocation.clone()).collect()
    }

    pub fn scope_separator(mut self, separator: char) -> Self {
        self.scope_separator = separator;
        self
    }

    /// Every site these endpoints name (`host`, `host:port` or an http origin).
    pub fn hosts(&self) -> Vec<String> {
        let urls = [
            Some(&self.authorization),
            Some(&self.token),
            Some(&self.api_base),
            self.userinfo.as_ref(),
            self.revocation.as_ref(),
        ];
        let mut hosts: Vec<String> = urls.into_iter().flatten().filter_map(|u| site_of(u)).collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

/// A provider plugin. Only `info` and `endpoints` are required; every other method
/// has the standard RFC 6749 behaviour and can be overridden where a provider differs.
pub trait Provider {
    fn info() -> ProviderInfo;

    /// The endpoints for an integration's configuration.
    fn endpoints(config: &Config) -> Result<Endpoints, ProviderError>;

    /// How the client authenticates at the token endpoint.
    fn client_auth(_config: &Config) -> ClientAuth {
        ClientAuth::ClientSecretPost
    }

    /// Whether to send PKCE for this configuration (the provider's `supports_pkce` by default).
    fn uses_pkce(_config: &Config) -> bool {
        Self::info().supports_pkce
    }

    /// Extra authorization parameters (`access_type=offline`, `prompt=consent`…).
    fn extra_authorize_params(_config: &Config, _request: &AuthorizeRequest) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Checks the configuration and names the sites its endpoints need and where the
    /// client authenticates (which the host accepts only if `info` declares them or
    /// the operator's configuration names them).
    fn validate_config(config: &Config) -> Result<ConfigInfo, ProviderError> {
        let endpoints = Self::endpoints(config)?;
        for url in [&endpoints.authorization, &endpoints.token, &endpoints.api_base] {
            if host_of(url).is_none() {
                return Err(ProviderError::InvalidConfig(format!("`{url}` is not an absolute URL")));
            }
        }
        Ok(ConfigInfo {
            config: config.to_json(),
            hosts: endpoints.hosts(),
            client_auth_endpoints: endpoints.client_auth(),
        })
    }

    fn authorize_url(config: &Config, request: &AuthorizeRequest) -> Result<String, ProviderError> {
        let endpoints = Self::endpoints(config)?;
        let scope = request.scopes.join(&endpoints.scope_separator.to_string());
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), request.client.client_id.clone()),
            ("redirect_uri".into(), request.client.redirect_uri.clone()),
            ("scope".into(), scope),
            ("state".into(), request.state.clone()),
        ];
        if let Some(challenge) = request.code_challenge.as_ref().filter(|_| Self::uses_pkce(config)) {
            params.push(("code_challenge".into(), challenge.clone()));
            params.push(("code_challenge_method".into(), "S256".into()));
        }
        if let Some(hint) = &request.login_hint {
            params.push(("login_hint".into(), hint.clone()));
        }
        params.extend(Self::extra_authorize_params(config, request));
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Ok(with_query(&endpoints.authorization, &pairs))
    }

    /// POSTs a grant to the token endpoint with client authentication.
    fn token_request(
        config: &Config,
        client: &Client,
        grant: &[(&str, &str)],
    ) -> Result<Response, ProviderError> {
        Self::token_request_to(config, client, &Self::endpoints(config)?.token, grant)
    }

    fn exchange_code(config: &Config, request: &CodeExchange) -> Result<TokenSet, ProviderError> {
        let mut grant = vec![
            ("grant_type", "authorization_code"),
            ("code", request.code.as_str()),
            ("redirect_uri", request.client.redirect_uri.as_str()),
        ];
        if let Some(verifier) = request.code_verifier.as_ref().filter(|_| Self::uses_pkce(config)) {
            grant.push(("code_verifier", verifier));
        }
        let response = Self::token_request(config, &request.client, &grant)?;
        oauth::parse_token_response(&response)
    }

    fn refresh(config: &Config, request: &RefreshRequest) -> Result<TokenSet, ProviderError> {
        if !Self::info().supports_refresh {
            return Err(ProviderError::Unsupported("this provider's tokens cannot be refreshed".into()));
        }
        let grant = [("grant_type", "refresh_token"), ("refresh_token", request.refresh_token.as_str())];
        let response = Self::token_request(config, &request.client, &grant)?;
        oauth::parse_token_response(&response)
    }

    /// The OIDC userinfo answer: `sub`, `email`, `name`.
    fn identity(config: &Config, request: &TokenRequest) -> Result<Identity, ProviderError> {
        let endpoints = Self::endpoints(config)?;
        let url = endpoints
            .userinfo
            .ok_or_else(|| ProviderError::Unsupported("no userinfo endpoint is configured".into()))?;
        let response = http::get_with_bearer(&url, &request.access_token)?;
        if !response.is_success() {
            return Err(oauth::provider_error_from_response(&response));
        }
        let json = response.json()?;
        identity_from_json(&json, &["sub", "id"], "email", "name")
    }

    /// Where proxied calls go and which headers carry the token. Must depend only on
    /// the configuration and the token: the host reuses the answer until either changes.
    fn proxy_target(config: &Config, request: &TokenRequest) -> Result<ProxyTarget, ProviderError> {
        let endpoints = Self::endpoints(config)?;
        Ok(ProxyTarget { base_url: endpoints.api_base, headers: vec![http::bearer(&request.access_token)] })
    }

    /// RFC 7009 revocation.
    fn revoke(config: &Config, request: &RevokeRequest) -> Result<(), ProviderError> {
        let endpoints = Self::endpoints(config)?;
        let url = endpoints
            .revocation
            .ok_or_else(|| ProviderError::Unsupported("this provider has no revocation endpoint".into()))?;
        let (token, hint) = match &request.refresh_token {
            Some(refresh) => (refresh.as_str(), "refresh_token"),
            None => (request.access_token.as_str(), "access_token"),
        };
        let grant = [("token", token), ("token_type_hint", hint)];
        let response = Self::token_request_to(config, &request.client, &url, &grant)?;
        if response.is_success() { Ok(()) } else { Err(oauth::provider_error_from_response(&response)) }
    }

    /// Like `token_request`, to another endpoint of the provider (revocation).
    fn token_request_to(
        config: &Config,
        client: &Client,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<Response, ProviderError> {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut headers: Vec<Header> = Vec::new();
        match Self::client_auth(config) {
            ClientAuth::ClientSecretPost => {
                fields.push(("client_id", &client.client_id));
                fields.push(("client_secret", &client.client_secret));
            }
            ClientAuth::ClientSecretBasic => {
                headers.push(http::basic(&client.client_id, &client.client_secret))
            }
        }
        http::post_form(url, &fields, headers)
    }
}

/// An identity from a JSON object: the first present of `id_keys` (string or
/// number) is the account id. Keys may be dotted paths (`user.id`).
pub fn identity_from_json(
    json: &Value,
    id_keys: &[&str],
    email_key: &str,
    name_key: &str,
) -> Result<Identity, ProviderError> {
    let account_id = id_keys
        .iter()
        .find_map(|key| match oauth::lookup(json, key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| ProviderError::Protocol("the identity answer has no account id".into()))?;
    let text = |key: &str| oauth::lookup(json, key).and_then(Value::as_str).map(str::to_owned);
    Ok(Identity { account_id, email: text(email_key), name: text(name_key) })
}
