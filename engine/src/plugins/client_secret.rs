//! The OAuth client secret inside the sandbox's `fetch`: the guest only ever holds
//! a placeholder. The host writes the secret where RFC 6749 §2.3.1 puts it — the
//! form field `client_secret` or HTTP Basic — of a request to an endpoint where
//! the provider authenticates clients (its token and revocation endpoints, as the
//! plugin declared them in `info` or the operator's configuration names them),
//! during the calls that authenticate the client. The placeholder anywhere else
//! fails the call. Whatever comes back has the secret removed in every encoding a
//! provider might echo it in.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use url::Url;

use crate::policy::Site;
use crate::util::secret::SecretString;

/// What the guest writes where the client secret goes. Only unreserved URL
/// characters, so form-encoding leaves it intact.
pub const CLIENT_SECRET_PLACEHOLDER: &str = "__securix_client_secret__";

/// Forms of the secret shorter than this are not scrubbed: they would mangle
/// ordinary text (and such a secret guards little anyway).
const MIN_SCRUBBED: usize = 8;

/// An endpoint where the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientAuthEndpoint {
    /// A URL whose path segments match one by one, `*` standing for any one segment.
    Pattern { site: Site, segments: Vec<String> },
    /// Any URL on a site: a 0.1.0 plugin's static sites (that version names no endpoints).
    AnyOn(Site),
}

impl ClientAuthEndpoint {
    pub fn parse(raw: &str) -> Option<ClientAuthEndpoint> {
        let url = Url::parse(raw).ok()?;
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return None;
        }
        let segments = url.path_segments()?.map(str::to_owned).collect();
        Some(ClientAuthEndpoint::Pattern { site: Site::of(&url)?, segments })
    }

    pub fn site(&self) -> &Site {
        match self {
            ClientAuthEndpoint::Pattern { site, .. } | ClientAuthEndpoint::AnyOn(site) => site,
        }
    }

    pub fn matches(&self, url: &Url) -> bool {
        match self {
            ClientAuthEndpoint::AnyOn(site) => site.matches(url),
            ClientAuthEndpoint::Pattern { site, segments } => {
                let Some(path) = url.path_segments() else { return false };
                let path: Vec<&str> = path.collect();
                site.matches(url)
                    && path.len() == segments.len()
                    && segments
                        .iter()
                        .zip(path)
                        .all(|(want, got)| want == got || (want == "*" && !got.is_empty()))
            }
        }
    }
}

/// Why a request was refused: the placeholder where the secret may not go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Misplaced(pub String);

/// The client secret as one plugin call may use it.
pub(crate) struct ClientSecret {
    secret: SecretString,
    /// Only calls that authenticate the client (exchange, refresh, revoke) may send it.
    may_send: bool,
    endpoints: Vec<ClientAuthEndpoint>,
    /// Built on first use: most calls fetch nothing and log nothing.
    scrubber: OnceLock<Option<AhoCorasick>>,
}

impl Default for ClientSecret {
    fn default() -> Self {
        ClientSecret::new(SecretString::new(""), false, Vec::new())
    }
}

impl ClientSecret {
    pub fn new(secret: SecretString, may_send: bool, endpoints: Vec<ClientAuthEndpoint>) -> Self {
        ClientSecret { secret, may_send, endpoints, scrubber: OnceLock::new() }
    }

    fn scrubber(&self) -> Option<&AhoCorasick> {
        self.scrubber
            .get_or_init(|| {
                let forms = encodings(self.secret.expose());
                // Case-insensitive: percent and hex escapes come in either case, and
                // removing a same-letters lookalike of the secret costs nothing.
                let builder = AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .ascii_case_insensitive(true)
                    .build(&forms);
                (!forms.is_empty()).then_some(builder.ok()).flatten()
            })
            .as_ref()
    }

    /// Puts the secret where the request's placeholders allow it, or says why not.
    pub fn place(
        &self,
        url: &Url,
        headers: &mut [(String, String)],
        body: &mut Vec<u8>,
    ) -> Result<(), Misplaced> {
        let placeholder = CLIENT_SECRET_PLACEHOLDER;
        let to_endpoint = self.may_send && self.endpoints.iter().any(|e| e.matches(url));
        let refused = |place: &str| {
            let why = if !self.may_send {
                "only exchanging a code, refreshing and revoking authenticate the client"
            } else if !to_endpoint {
                "the request is not to an endpoint where the provider authenticates clients"
            } else {
                "RFC 6749 puts the secret only in the `client_secret` form field or HTTP Basic"
            };
            Misplaced(format!("the client secret placeholder in {place}: {why}"))
        };
        if url.as_str().contains(placeholder) {
            return Err(refused("the URL"));
        }
        // One content type, and it says form: the secret goes into no other body.
        let mut types = headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        let form = match (types.next(), types.next()) {
            (Some((_, value)), None) => value
                .split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")),
            _ => false,
        };
        for (name, value) in headers.iter_mut() {
            if name.eq_ignore_ascii_case("authorization")
                && let Some(filled) =
                    self.fill_basic(value, to_endpoint).map_err(|()| refused("HTTP Basic"))?
            {
                *value = filled;
            } else if value.contains(placeholder) {
                return Err(refused(&format!("the header {}", name.to_ascii_lowercase())));
            }
        }
        if find(body, placeholder.as_bytes()).is_some() {
            if !(to_endpoint && form) {
                return Err(refused("the body"));
            }
            *body = self.fill_form(body).map_err(|()| refused("a form field other than `client_secret`"))?;
        }
        Ok(())
    }

    /// `Basic base64(id:placeholder)` → the same with the form-encoded secret. `None`
    /// when the header holds no placeholder; `Err` when it may not be filled.
    fn fill_basic(&self, value: &str, to_endpoint: bool) -> Result<Option<String>, ()> {
        let scheme = value.get(..6).filter(|scheme| scheme.eq_ignore_ascii_case("basic "));
        let Some(encoded) = scheme.map(|_| &value[6..]) else { return Ok(None) };
        let Ok(decoded) = STANDARD.decode(encoded.trim()) else { return Ok(None) };
        if find(&decoded, CLIENT_SECRET_PLACEHOLDER.as_bytes()).is_none() {
            return Ok(None);
        }
        let text = String::from_utf8(decoded).map_err(|_| ())?;
        match text.split_once(':') {
            Some((id, CLIENT_SECRET_PLACEHOLDER))
                if to_endpoint && !id.contains(CLIENT_SECRET_PLACEHOLDER) =>
            {
                let pair = format!("{id}:{}", form_encode(self.secret.expose()));
                Ok(Some(format!("Basic {}", STANDARD.encode(pair))))
            }
            _ => Err(()),
        }
    }

    /// `client_secret=placeholder` → the form-encoded secret; the placeholder in any
    /// other field is refused.
    fn fill_form(&self, body: &[u8]) -> Result<Vec<u8>, ()> {
        let wanted = format!("client_secret={CLIENT_SECRET_PLACEHOLDER}");
        let filled = format!("client_secret={}", form_encode(self.secret.expose()));
        let mut out = Vec::with_capacity(body.len() + filled.len());
        let mut filled_once = false;
        for (at, pair) in body.split(|b| *b == b'&').enumerate() {
            if at > 0 {
                out.push(b'&');
            }
            // A form of printable pairs, one `client_secret`: nothing else is filled.
            if pair.iter().any(|b| !b.is_ascii_graphic()) {
                return Err(());
            }
            if pair == wanted.as_bytes() && !filled_once {
                filled_once = true;
                out.extend_from_slice(filled.as_bytes());
            } else if find(pair, CLIENT_SECRET_PLACEHOLDER.as_bytes()).is_some() {
                return Err(());
            } else {
                out.extend_from_slice(pair);
            }
        }
        Ok(out)
    }

    /// `bytes` with every encoding of the secret replaced by the placeholder.
    pub fn scrub(&self, bytes: &[u8]) -> Vec<u8> {
        match self.scrubber() {
            Some(scrubber) => {
                let with = vec![CLIENT_SECRET_PLACEHOLDER; scrubber.patterns_len()];
                scrubber.replace_all_bytes(bytes, &with)
            }
            None => bytes.to_vec(),
        }
    }

    pub fn scrub_text(&self, text: &str) -> String {
        String::from_utf8(self.scrub(text.as_bytes())).unwrap_or_else(|_| "<redacted>".to_owned())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The secret as it may come back: raw, percent-encoded, form- and JSON-escaped
/// (`\u0026` and `\/` spellings too), hex, and base64 (standard and URL-safe) at
/// each of the three alignments it can take inside a longer encoded text (a
/// Basic credential). Matched without regard to ASCII case.
fn encodings(secret: &str) -> Vec<String> {
    if secret.is_empty() {
        return Vec::new();
    }
    let percent: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
    let form = form_encode(secret);
    let json = serde_json::to_string(secret).unwrap_or_default();
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    // JSON encoders differ: Go escapes `<>&` as `\u003c…`, PHP escapes `/` as `\/`.
    let json = json.trim_matches('"');
    let go = json.replace('&', "\\u0026").replace('<', "\\u003c").replace('>', "\\u003e");
    let json_forms = [json.to_owned(), json.replace('/', "\\/"), go.clone(), go.replace('/', "\\/")];
    let mut forms = vec![
        secret.to_owned(),
        form.clone(),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        percent,
        hex,
    ];
    forms.extend(json_forms);
    for text in [secret.to_owned(), form] {
        for offset in 0..3usize {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(text.as_bytes());
            // Characters made partly of the bytes before the secret, or after it, vary.
            let skip = [0, 2, 3][offset];
            let end = bytes.len() * 8 / 6;
            for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&bytes);
                if let Some(part) = encoded.get(skip..end) {
                    forms.push(part.to_owned());
                }
            }
        }
    }
    forms.retain(|form| form.len() >= MIN_SCRUBBED);
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr&t=+/ long enough";

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    fn token_endpoint() -> Vec<ClientAuthEndpoint> {
        vec![ClientAuthEndpoint::parse("https://auth.example/oauth/token").unwrap()]
    }

    fn form_headers() -> Vec<(String, String)> {
        vec![("content-type".into(), "application/x-www-form-urlencoded".into())]
    }

    #[test]
    fn the_secret_goes_into_the_client_secret_field_or_basic_of_a_client_auth_endpoint() {
        let secret = ClientSecret::new(SecretString::new(SECRET), true, token_endpoint());
        let to = url("https://auth.example/oauth/token");
        let mut body = format!("grant_type=x&client_secret={CLIENT_SECRET_PLACEHOLDER}").into_bytes();
        secret.place(&to, &mut form_headers(), &mut body).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "grant_type=x&client_secret=s3cr%26t%3D%2B%2F%20long%20enough"
        );

        let basic = format!("Basic {}", STANDARD.encode(format!("abc:{CLIENT_SECRET_PLACEHOLDER}")));
        let mut headers = vec![("Authorization".to_owned(), basic)];
        secret.place(&to, &mut headers, &mut Vec::new()).unwrap();
        let decoded = STANDARD.decode(headers[0].1.trim_start_matches("Basic ")).unwrap();
        assert_eq!(decoded, b"abc:s3cr%26t%3D%2B%2F%20long%20enough");
    }

    #[test]
    fn the_placeholder_anywhere_else_is_refused() {
        let p = CLIENT_SECRET_PLACEHOLDER;
        let secret = ClientSecret::new(SecretString::new(SECRET), true, token_endpoint());
        let token = url("https://auth.example/oauth/token");
        let refused = |secret: &ClientSecret, to: &Url, mut headers: Vec<(String, String)>, body: String| {
            secret.place(to, &mut headers, &mut body.into_bytes()).is_err()
        };
        // Another URL of the same host, another call, a URL, a JSON body, another field or header.
        assert!(refused(
            &secret,
            &url("https://auth.example/echo"),
            form_headers(),
            format!("client_secret={p}")
        ));
        let no_send = ClientSecret::new(SecretString::new(SECRET), false, token_endpoint());
        assert!(refused(&no_send, &token, form_headers(), format!("client_secret={p}")));
        assert!(refused(
            &secret,
            &url(&format!("https://auth.example/oauth/token?s={p}")),
            vec![],
            String::new()
        ));
        let json = vec![("content-type".to_owned(), "application/json".to_owned())];
        assert!(refused(&secret, &token, json, format!(r#"{{"client_secret":"{p}"}}"#)));
        assert!(refused(&secret, &token, form_headers(), format!("note={p}")));
        assert!(refused(&secret, &token, form_headers(), format!("client_secret={p}{p}")));
        assert!(refused(&secret, &token, form_headers(), format!("client_secret={p}&client_secret={p}")));
        assert!(refused(&secret, &token, form_headers(), format!("{{\"a\": 1}}&client_secret={p}&")));
        let two_types =
            [form_headers(), vec![("Content-Type".to_owned(), "application/json".to_owned())]].concat();
        assert!(refused(&secret, &token, two_types, format!("client_secret={p}")));
        assert!(refused(&secret, &token, vec![("x-secret".into(), p.into())], String::new()));
        let bearer = vec![("authorization".to_owned(), format!("Bearer {p}"))];
        assert!(refused(&secret, &token, bearer, String::new()));
        let user = format!("Basic {}", STANDARD.encode(format!("{p}:x")));
        assert!(refused(&secret, &token, vec![("authorization".into(), user)], String::new()));
        let basic = format!("Basic {}", STANDARD.encode(format!("abc:{p}")));
        assert!(refused(
            &secret,
            &url("https://auth.example/other"),
            vec![("authorization".into(), basic)],
            String::new()
        ));
    }

    #[test]
    fn endpoints_match_scheme_host_port_and_each_segment() {
        let pattern = ClientAuthEndpoint::parse("https://login.example/*/oauth2/token").unwrap();
        assert!(pattern.matches(&url("https://login.example/common/oauth2/token")));
        assert!(pattern.matches(&url("https://login.example/common/oauth2/token?x=1")));
        assert!(!pattern.matches(&url("https://login.example/a/b/oauth2/token")));
        assert!(!pattern.matches(&url("https://login.example//oauth2/token")));
        assert!(!pattern.matches(&url("https://login.example:8443/common/oauth2/token")));
        assert!(!pattern.matches(&url("http://login.example/common/oauth2/token")));
        assert!(ClientAuthEndpoint::parse("https://login.example/token?x=1").is_none());
    }

    #[test]
    fn every_encoding_of_the_secret_is_scrubbed() {
        let secret = ClientSecret::new(SecretString::new(SECRET), true, Vec::new());
        let basic = |prefix: &str| STANDARD.encode(format!("{prefix}:{}", form_encode(SECRET)));
        let echoes = [
            SECRET.to_owned(),
            form_encode(SECRET),
            form_encode(SECRET).to_ascii_lowercase(),
            serde_json::to_string(SECRET).unwrap(),
            SECRET.bytes().map(|b| format!("{b:02x}")).collect(),
            STANDARD.encode(SECRET),
            URL_SAFE_NO_PAD.encode(format!("x{SECRET}")),
            basic("a"),
            basic("ab"),
            basic("abc"),
        ];
        for echo in echoes {
            let scrubbed = secret.scrub_text(&format!("echo: {echo} end"));
            assert!(scrubbed.contains(CLIENT_SECRET_PLACEHOLDER), "{echo} → {scrubbed}");
            assert!(!scrubbed.contains(&echo), "{echo} → {scrubbed}");
        }
        assert_eq!(secret.scrub_text("nothing here"), "nothing here");

        // Letters of either case, escapes of either case, JSON's other spellings.
        let mixed = "AbC/dEf&12 Long";
        let secret = ClientSecret::new(SecretString::new(mixed), true, Vec::new());
        for echo in
            ["AbC%2fdEf%2612%20Long", "AbC%2FdEf%2612+Long", "AbC\\/dEf\\u002612 Long", "abc/def&12 long"]
        {
            let scrubbed = secret.scrub_text(&format!("[{echo}]"));
            assert_eq!(scrubbed, format!("[{CLIENT_SECRET_PLACEHOLDER}]"), "{echo}");
        }
    }
}
