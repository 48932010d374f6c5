//! The client's address as rate limits and audit key it: the socket's peer, or,
//! when the peer is one of the operator's `SECURIX_TRUSTED_PROXIES`, the address
//! those proxies recorded (`Forwarded`, else `X-Forwarded-For`), read from the
//! right past every trusted hop. IPv6 clients are keyed by their /64, the block one
//! subscriber gets: counting single addresses would let one user rotate freely.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses comma-separated CIDRs (a bare address is a /32 or /128).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| anyhow::anyhow!("SECURIX_TRUSTED_PROXIES: {item:?} is not a CIDR"))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }
}

/// The client `request` came from, as a rate-limit key (an IPv4 address or an IPv6 /64).
pub fn client_key(request: &HttpRequest, proxies: &TrustedProxies) -> String {
    let Some(peer) = request.peer_addr().map(|a| canonical(a.ip())) else { return "unknown".into() };
    let client = if proxies.trusts(peer) {
        let hops = forwarded_for(request);
        // Right to left: the nearest hop first; the first untrusted one is the client.
        hops.into_iter().rev().find(|hop| !proxies.trusts(*hop)).unwrap_or(peer)
    } else {
        peer
    };
    key(client)
}

/// An IPv4-mapped IPv6 address is the IPv4 address it maps.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{prefix}/64")
        }
    }
}

/// The addresses the proxies recorded, in the order they were added: RFC 7239
/// `Forwarded: for=…` when present, else `X-Forwarded-For`. Unparseable entries
/// (obfuscated identifiers, `unknown`) end the chain there.
fn forwarded_for(request: &HttpRequest) -> Vec<IpAddr> {
    let headers = request.headers();
    let forwarded: Vec<&str> = headers.get_all("forwarded").filter_map(|v| v.to_str().ok()).collect();
    let items: Vec<String> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|item| item.trim().to_owned())
            .collect()
    } else {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    };
    let mut hops = Vec::new();
    for item in items {
        match parse_node(&item) {
            Some(address) => hops.push(canonical(address)),
            None => hops.clear(), // Nothing before an unknown hop can be believed.
        }
    }
    hops
}

/// `192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]`, `[2001:db8::1]:443` or `2001:db8::1`.
fn parse_node(item: &str) -> Option<IpAddr> {
    if let Some(rest) = item.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    item.parse().ok().or_else(|| item.rsplit_once(':')?.0.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn from(peer: &str, headers: &[(&str, &str)], trusted: &str) -> String {
        let mut request = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        client_key(&request.to_http_request(), &TrustedProxies::parse(trusted).unwrap())
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let xff = [("x-forwarded-for", "198.51.100.7")];
        assert_eq!(from("10.0.0.5:4000", &xff, ""), "10.0.0.5", "no trusted proxies: the socket");
        assert_eq!(from("10.0.0.5:4000", &xff, "10.0.0.0/8"), "198.51.100.7");
        assert_eq!(
            from("192.0.2.9:4000", &xff, "10.0.0.0/8"),
            "192.0.2.9",
            "an untrusted peer's header is ignored"
        );
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_hops() {
        // The client wrote a fake first hop; the proxies appended the real ones.
        let xff = [("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.4")];
        assert_eq!(from("10.0.0.5:4000", &xff, "10.0.0.0/8"), "198.51.100.7");
        let forwarded = [("forwarded", "for=6.6.6.6, for=\"[2001:db8:1:2::99]:443\";proto=https")];
        assert_eq!(from("10.0.0.5:4000", &forwarded, "10.0.0.0/8"), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(from("[2001:db8:1:2:aaaa::1]:4000", &[], ""), "2001:db8:1:2::/64");
        assert_eq!(from("[2001:db8:1:2:bbbb::2]:4000", &[], ""), "2001:db8:1:2::/64");
        assert_eq!(from("[::ffff:192.0.2.1]:4000", &[], ""), "192.0.2.1");
    }

    #[test]
    fn bad_cidrs_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/8, not-a-net").is_err());
        assert!(TrustedProxies::parse("10.0.0.1, ::1").is_ok());
    }
}
