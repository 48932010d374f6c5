//! `jwt` credentials: a private key the user brings (a Google service account's, a
//! GitHub App's) signs a short assertion, which the provider's token endpoint
//! exchanges for an access token: the RFC 7523 JWT bearer grant, or GitHub's
//! installation-token call (the assertion as a Bearer token). The key stays in the
//! vault; each lapsed access token is taken again the same way.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Uri};
use serde_json::{Value, json};

use super::verify::Rejection;
use super::{Credentials, Spec};
use crate::http_client::HttpClient;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;

/// The most of a token answer read.
const ANSWER_LIMIT: usize = 64 << 10;
/// How long an assertion lives: GitHub takes at most ten minutes.
const ASSERTION_SECS: i64 = 540;
/// How far back an assertion dates itself, for clocks that run a little behind ours.
const CLOCK_SKEW_SECS: i64 = 60;
/// How long a token lives when the answer does not say (GitHub's last an hour).
const DEFAULT_LIFETIME_SECS: i64 = 55 * 60;

/// How the assertion becomes an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// RFC 7523: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`.
    JwtBearer,
    /// GitHub Apps: a POST to the token URL with the assertion as a Bearer token.
    GithubApp,
}

/// An access token taken with an assertion.
pub struct Minted {
    pub access_token: SecretString,
    pub expires_at: Timestamp,
}

impl Grant {
    pub fn of(config: &Value) -> Grant {
        match config.get("jwt").and_then(|j| j.get("grant")).and_then(Value::as_str) {
            Some("github-app") => Grant::GithubApp,
            _ => Grant::JwtBearer,
        }
    }
}

/// The assertion: RS256 over `{iss, sub?, aud?, scope?, iat, exp}`, signed with the
/// PEM private key (PKCS#8 or PKCS#1).
pub fn assertion(claims: &Value, private_key_pem: &str) -> Result<String, Rejection> {
    let unusable = |why: &str| Rejection::Unusable(why.to_owned());
    let der = pem_body(private_key_pem).ok_or_else(|| unusable("the private key is not PEM"))?;
    let key = RsaKeyPair::from_pkcs8(&der)
        .or_else(|_| RsaKeyPair::from_der(&der))
        .map_err(|_| unusable("the private key is not an RSA key"))?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signed.as_bytes(), &mut signature)
        .map_err(|_| unusable("the private key could not sign"))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// The DER inside a PEM block, however its lines came: real, escaped (`\n`, as JSON
/// key files hold them) or lost (a single-line form field).
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let begin = pem.find("-----BEGIN")?;
    let body_start = begin + 10 + pem[begin + 10..].find("-----")? + 5;
    let body_end = body_start + pem[body_start..].find("-----END")?;
    let body: String = pem[body_start..body_end].replace("\\n", "").split_whitespace().collect();
    STANDARD.decode(body).ok().filter(|der| !der.is_empty())
}

/// Takes an access token for `credentials` at `token_url`.
pub async fn mint(
    http: &HttpClient,
    spec: &Spec,
    credentials: &Credentials,
    token_url: &str,
    scopes: &[String],
    now: Timestamp,
    timeout: Duration,
) -> Result<Minted, Rejection> {
    let unusable = |why: &str| Rejection::Unusable(why.to_owned());
    let field = |secret: bool| spec.fields.iter().find(|f| f.secret == secret && !f.optional);
    let issuer = field(false).and_then(|f| credentials.get(&f.name)).ok_or_else(|| unusable("no issuer"))?;
    let key = field(true).and_then(|f| credentials.get(&f.name)).ok_or_else(|| unusable("no private key"))?;
    let secs = now.0.div_euclid(1000);
    let mut claims =
        json!({"iss": issuer.expose(), "iat": secs - CLOCK_SKEW_SECS, "exp": secs + ASSERTION_SECS});
    let grant = spec.grant.unwrap_or(Grant::JwtBearer);
    if grant == Grant::JwtBearer {
        claims["aud"] = Value::from(spec.audience.as_deref().unwrap_or(token_url));
        if !scopes.is_empty() {
            claims["scope"] = Value::from(scopes.join(" "));
        }
        if let Some(subject) = credentials.get("subject").filter(|s| !s.expose().is_empty()) {
            claims["sub"] = Value::from(subject.expose());
        }
    }
    let assertion = assertion(&claims, key.expose())?;
    let uri: Uri = token_url.parse().map_err(|_| unusable("the token URL is malformed"))?;
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let body = match grant {
        Grant::JwtBearer => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
                .append_pair("assertion", &assertion)
                .finish();
            Bytes::from(form)
        }
        Grant::GithubApp => {
            let mut bearer = HeaderValue::from_str(&format!("Bearer {assertion}"))
                .map_err(|_| unusable("the assertion is not a header value"))?;
            bearer.set_sensitive(true);
            headers.insert(AUTHORIZATION, bearer);
            headers.insert(USER_AGENT, HeaderValue::from_static("SecuriX"));
            Bytes::new()
        }
    };
    let (status, _, answer) = http.fetch(Method::POST, uri, headers, body, timeout, ANSWER_LIMIT).await?;
    super::verify::judge(status)?;
    let answer: Value =
        serde_json::from_slice(&answer).map_err(|_| unusable("the token answer is not JSON"))?;
    let token = answer.get("access_token").or_else(|| answer.get("token")).and_then(Value::as_str);
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| unusable("the token answer holds no token"))?;
    let lifetime = answer.get("expires_in").and_then(Value::as_i64).unwrap_or(DEFAULT_LIFETIME_SECS);
    Ok(Minted {
        access_token: SecretString::new(token),
        expires_at: now.plus_secs(lifetime.clamp(1, 86_400)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_bodies_read_with_real_or_escaped_newlines() {
        let pem = "-----BEGIN PRIVATE KEY-----\nAQID\nBAU=\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_body(pem).unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(pem_body(&pem.replace('\n', "\\n")).unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(pem_body(&pem.replace('\n', "")).unwrap(), [1, 2, 3, 4, 5], "a single-line field");
        assert!(pem_body("not a key").is_none());
        assert!(matches!(
            assertion(&json!({}), "-----BEGIN X-----\nAQID\n-----END X-----"),
            Err(Rejection::Unusable(_))
        ));
    }
}
