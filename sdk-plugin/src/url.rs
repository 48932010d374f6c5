//! URL pieces without a URL crate: percent-encoding, query strings, hosts.

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `a=1&b=2`, each part percent-encoded (also the form body encoding).
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// `base` with `pairs` appended as its query.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{}", query(pairs))
}

/// Decodes a percent-encoded form value (`+` is a space).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `a=1&b=2` into pairs.
pub fn parse_query(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(part), String::new()),
        })
        .collect()
}

/// The host of an `https://host[:port]/…` URL, lowercased, without the port.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next()?.to_owned()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The site of an absolute URL as the host matches it: `host` for https on 443,
/// `host:port` for https on another port, `http://host:port` for plain http.
pub fn site_of(url: &str) -> Option<String> {
    let host = host_of(url)?;
    let https = url.starts_with("https://");
    let authority = url.split_once("://")?.1.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    // What follows the host (after the `]` of an IPv6 address) is `:port`, if anything.
    let after_host = authority.rsplit_once(']').map_or(authority, |(_, rest)| rest);
    let port = after_host.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
    Some(match (https, port) {
        (true, None | Some(443)) => host,
        (true, Some(port)) => format!("{host}:{port}"),
        (false, port) => format!("http://{host}:{}", port.unwrap_or(80)),
    })
}

#[cfg(test)]
mod tests {
    use super::site_of;

    #[test]
    fn a_site_carries_the_scheme_and_port_the_host_must_match() {
        assert_eq!(site_of("https://API.example.com/token").as_deref(), Some("api.example.com"));
        assert_eq!(site_of("https://api.example.com:443/x").as_deref(), Some("api.example.com"));
        assert_eq!(site_of("https://api.example.com:8443/x").as_deref(), Some("api.example.com:8443"));
        assert_eq!(site_of("http://127.0.0.1:4000/token").as_deref(), Some("http://127.0.0.1:4000"));
        assert_eq!(site_of("http://[::1]:4000/token").as_deref(), Some("http://[::1]:4000"));
        assert_eq!(site_of("http://localhost/x").as_deref(), Some("http://localhost:80"));
        assert_eq!(site_of("ftp://a.example/"), None);
    }
}
