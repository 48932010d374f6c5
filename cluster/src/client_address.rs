//! The client's address as rate limits and audit key it: the socket's peer, or,
//! when the peer is one of the operator's `SECURIX_TRUSTED_PROXIES`, the address
//! those proxies recorded, read from the right past every trusted hop. Only the
//! header the proxies write is read (`X-Forwarded-For`, or RFC 7239 `Forwarded`
//! with `SECURIX_FORWARDED_HEADER=forwarded`): most proxies append to one and pass
//! the other through from the client untouched, so reading both would let a
//! client name itself. IPv6 clients are keyed by their /64, the block one
//! subscriber gets: counting single addresses would let one user rotate freely.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    /// RFC 7239 `Forwarded` rather than `X-Forwarded-For`.
    rfc7239: bool,
}

impl TrustedProxies {
    /// Reads `Forwarded` instead of `X-Forwarded-For` (`SECURIX_FORWARDED_HEADER`).
    pub fn header(mut self, name: &str) -> anyhow::Result<Self> {
        self.rfc7239 = match name.trim().to_ascii_lowercase().as_str() {
            "" | "x-forwarded-for" => false,
            "forwarded" => true,
            other => {
                anyhow::bail!("SECURIX_FORWARDED_HEADER must be x-forwarded-for or forwarded, not {other:?}")
            }
        };
        Ok(self)
    }

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
        Ok(TrustedProxies { nets, rfc7239: false })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&address))
    }
}

/// The client `request` came from, as a rate-limit key (an IPv4 address or an IPv6 /64).
pub fn client_key(request: &HttpRequest, proxies: &TrustedProxies) -> String {
    let Some(peer) = request.peer_addr().map(|a| canonical(a.ip())) else { return "unknown".into() };
    let client = if proxies.trusts(peer) {
        let hops = forwarded_for(request, proxies.rfc7239);
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

/// The addresses the proxies recorded in the header they write, in the order they
/// were added. Unparseable entries (obfuscated identifiers, `unknown`) end the
/// chain there.
fn forwarded_for(request: &HttpRequest, rfc7239: bool) -> Vec<IpAddr> {
    let headers = request.headers();
    let name = if rfc7239 { "forwarded" } else { "x-forwarded-for" };
    let values: Vec<&str> = headers.get_all(name).filter_map(|v| v.to_str().ok()).collect();
    let items: Vec<String> = if !rfc7239 {
        values.iter().flat_map(|v| v.split(',')).map(|item| item.trim().to_owned()).collect()
    } else {
        values
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
        from_with(peer, headers, TrustedProxies::parse(trusted).unwrap())
    }

    fn from_with(peer: &str, headers: &[(&str, &str)], proxies: TrustedProxies) -> String {
        let mut request = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (name, value) in headers {
            request = request.append_header((*name, *value));
        }
        client_key(&request.to_http_request(), &proxies)
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
        let rfc7239 = TrustedProxies::parse("10.0.0.0/8").unwrap().header("forwarded").unwrap();
        assert_eq!(from_with("10.0.0.5:4000", &forwarded, rfc7239), "2001:db8:1:2::/64");
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        // The proxy appended to X-Forwarded-For; the client's own Forwarded is ignored.
        let both = [("forwarded", "for=203.0.113.99"), ("x-forwarded-for", "198.51.100.7")];
        assert_eq!(from("10.0.0.5:4000", &both, "10.0.0.0/8"), "198.51.100.7");
        let rfc7239 = TrustedProxies::parse("10.0.0.0/8").unwrap().header("forwarded").unwrap();
        let both = [("forwarded", "for=198.51.100.7"), ("x-forwarded-for", "203.0.113.99")];
        assert_eq!(from_with("10.0.0.5:4000", &both, rfc7239), "198.51.100.7");
        // Two header lines are one list, in order.
        let lines = [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.7")];
        assert_eq!(from("10.0.0.5:4000", &lines, "10.0.0.0/8"), "198.51.100.7");
        assert!(TrustedProxies::default().header("x-real-ip").is_err());
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
