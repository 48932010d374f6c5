//! Where a connection's credentials go on a call: the entry's `apiKey` header or
//! query parameter (with its prefix), or HTTP Basic. Header values are marked
//! sensitive, so no log or debug output shows them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue};

use super::{Credentials, Spec};
use crate::catalog::AuthMode;
use crate::catalog::entry::PlacementIn;
use crate::util::secret::SecretString;

/// What a call carries to authenticate.
#[derive(Debug, Default)]
pub struct Auth {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `name=value`, percent-encoded, to add to the call's query.
    pub query: Option<String>,
}

/// Why credentials cannot be put on a call (a value no header can carry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the credentials cannot be sent as the provider's configuration says")]
pub struct Unplaceable;

/// An access token taken with the credentials (`jwt`), as a Bearer token.
pub fn bearer(access_token: &SecretString) -> Result<Auth, Unplaceable> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", access_token.expose())).map_err(|_| Unplaceable)?;
    value.set_sensitive(true);
    Ok(Auth { headers: vec![(AUTHORIZATION, value)], query: None })
}

pub fn auth(spec: &Spec, credentials: &Credentials) -> Result<Auth, Unplaceable> {
    let sensitive = |text: String| {
        let mut value = HeaderValue::from_str(&text).map_err(|_| Unplaceable)?;
        value.set_sensitive(true);
        Ok::<_, Unplaceable>(value)
    };
    match spec.mode {
        AuthMode::Basic => {
            let field = |name: &str| credentials.get(name).map(|v| v.expose()).ok_or(Unplaceable);
            let pair = format!("{}:{}", field("username")?, field("password")?);
            let value = sensitive(format!("Basic {}", STANDARD.encode(pair)))?;
            Ok(Auth { headers: vec![(AUTHORIZATION, value)], query: None })
        }
        _ => {
            let placement = spec.placement.as_ref().ok_or(Unplaceable)?;
            let key = spec.key_field().and_then(|f| credentials.get(&f.name)).ok_or(Unplaceable)?;
            let text = format!("{}{}", placement.prefix.as_deref().unwrap_or(""), key.expose());
            match placement.location {
                PlacementIn::Header => {
                    let name = HeaderName::from_bytes(placement.name.as_bytes()).map_err(|_| Unplaceable)?;
                    Ok(Auth { headers: vec![(name, sensitive(text)?)], query: None })
                }
                PlacementIn::Query => {
                    let pair = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair(&placement.name, &text)
                        .finish();
                    Ok(Auth { headers: Vec::new(), query: Some(pair) })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn placed(config: serde_json::Value, typed: &[(&str, &str)]) -> Auth {
        let spec = Spec::of(&config).unwrap().unwrap();
        let typed: BTreeMap<_, _> =
            typed.iter().map(|(k, v)| (k.to_string(), SecretString::new(*v))).collect();
        auth(&spec, &spec.accept(&typed).unwrap()).unwrap()
    }

    #[test]
    fn a_key_goes_where_the_entry_says() {
        let bearer = json!({"authMode": "api_key", "apiKey": {"in": "header", "name": "Authorization", "prefix": "Bearer "}});
        let header = placed(bearer, &[("apiKey", "sk-1")]);
        assert_eq!(header.headers[0].0, AUTHORIZATION);
        assert_eq!(header.headers[0].1, "Bearer sk-1");
        assert!(header.headers[0].1.is_sensitive());
        let query = json!({"authMode": "api_key", "apiKey": {"in": "query", "name": "api_key"}});
        assert_eq!(placed(query, &[("apiKey", "a&b=c")]).query.as_deref(), Some("api_key=a%26b%3Dc"));
        let basic = placed(json!({"authMode": "basic"}), &[("username", "ada"), ("password", "s3cret")]);
        assert_eq!(basic.headers[0].1, "Basic YWRhOnMzY3JldA==");
    }
}
