//! A 0.1.0 plugin written straight against the WIT, as authors did before 0.2.0:
//! it names no client-auth endpoints, so the host fills the secret only into
//! requests to its static site. `mode` in the configuration picks the token URL.

wit_bindgen::generate!({ path: "../../../../sdk-plugin/wit/v0.1.0", world: "provider-plugin" });

use exports::securix::provider::provider::Guest;
use securix::provider::host;
use securix::provider::types::*;

struct Legacy;

fn mode(config: &str) -> String {
    let key = "\"mode\":\"";
    config.find(key).map(|at| config[at + key.len()..].split('"').next().unwrap_or("").to_owned()).unwrap_or_default()
}

impl Guest for Legacy {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "legacy".into(),
            name: "Legacy".into(),
            allowed_hosts: vec!["legacy.test".into()],
            default_scopes: vec![],
            supports_pkce: false,
            supports_refresh: false,
            supports_revoke: false,
        }
    }

    fn validate_config(config: String) -> Result<ConfigInfo, ProviderError> {
        Ok(ConfigInfo { config, hosts: vec!["echo.test".into()] })
    }

    fn authorize_url(_request: AuthorizeRequest) -> Result<String, ProviderError> {
        Ok("https://legacy.test/authorize".into())
    }

    fn exchange_code(request: CodeExchange) -> Result<TokenSet, ProviderError> {
        let url = match mode(&request.config).as_str() {
            "config-site" => "https://echo.test/token",
            _ => "https://legacy.test/token",
        };
        let body = format!("grant_type=authorization_code&code={}&client_secret={}", request.code, request.client.client_secret);
        let headers = vec![Header { name: "content-type".into(), value: "application/x-www-form-urlencoded".into() }];
        let answer = host::fetch(&HttpRequest { method: "POST".into(), url: url.into(), headers, body: body.into_bytes() })
            .map_err(|e| ProviderError::Protocol(format!("{e:?}")))?;
        Ok(TokenSet {
            access_token: format!("legacy-at-{}", answer.status),
            refresh_token: None,
            id_token: None,
            token_type: "Bearer".into(),
            expires_in: None,
            scopes: None,
        })
    }

    fn refresh(_request: RefreshRequest) -> Result<TokenSet, ProviderError> {
        Err(ProviderError::Unsupported("no refresh".into()))
    }

    fn identity(_request: TokenRequest) -> Result<AccountIdentity, ProviderError> {
        Ok(AccountIdentity { account_id: "legacy-user".into(), email: None, name: None })
    }

    fn proxy_target(request: TokenRequest) -> Result<ApiTarget, ProviderError> {
        let headers = vec![Header { name: "authorization".into(), value: format!("Bearer {}", request.access_token) }];
        Ok(ApiTarget { base_url: "https://legacy.test/api".into(), headers })
    }

    fn revoke(_request: RevokeRequest) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported("no revoke".into()))
    }
}

export!(Legacy);
