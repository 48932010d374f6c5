//! Which authorization server protects an MCP server, and what it offers: the
//! server's protected resource metadata (RFC 9728; found from its 401's
//! `WWW-Authenticate: Bearer resource_metadata="…"`, else at its well-known URL),
//! then the authorization server's metadata (RFC 8414, or OpenID discovery).
//! Each document must name itself as asked (`resource`, `issuer`), so a server
//! cannot pass off another's.

use hyper::Method;
use hyper::header::{ACCEPT, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use serde::Deserialize;

use super::{MAX_DOCUMENT, Outbound, invalid};
use crate::error::{EngineError, EngineResult};
use crate::http_client::ProxyBody;

/// What the MCP server says of itself.
pub(super) struct Resource {
    pub authorization_server: String,
    pub scopes: Vec<String>,
}

/// What its authorization server offers.
pub(super) struct AuthorizationServer {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: String,
    pub revocation_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct ResourceMetadata {
    resource: String,
    #[serde(default)]
    authorization_servers: Vec<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
}

#[derive(Deserialize)]
struct ServerMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    registration_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}

pub(super) async fn resource_metadata(outbound: &Outbound<'_>, url: &str) -> EngineResult<Resource> {
    let mut candidates = Vec::new();
    if let Some(advertised) = advertised_metadata(outbound, url).await? {
        candidates.push(advertised);
    }
    candidates.extend(well_known(url, "oauth-protected-resource"));
    let metadata: ResourceMetadata =
        first_document(outbound, &candidates, "protected resource metadata").await?;
    if metadata.resource.trim_end_matches('/') != url.trim_end_matches('/') {
        return Err(invalid(format!("the metadata describes {:?}, not {url:?}", metadata.resource)));
    }
    let authorization_server = metadata
        .authorization_servers
        .into_iter()
        .next()
        .ok_or_else(|| invalid("the MCP server names no authorization server".into()))?;
    Ok(Resource { authorization_server, scopes: metadata.scopes_supported })
}

pub(super) async fn authorization_server(
    outbound: &Outbound<'_>,
    issuer: &str,
) -> EngineResult<AuthorizationServer> {
    let mut candidates = well_known(issuer, "oauth-authorization-server");
    candidates.extend(well_known(issuer, "openid-configuration"));
    candidates.push(format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')));
    let metadata: ServerMetadata =
        first_document(outbound, &candidates, "authorization server metadata").await?;
    if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(invalid(format!(
            "the authorization server calls itself {:?}, not {issuer:?}",
            metadata.issuer
        )));
    }
    if !metadata.code_challenge_methods_supported.iter().any(|m| m == "S256") {
        return Err(invalid("the authorization server does not offer PKCE with S256".into()));
    }
    let registration_endpoint = metadata.registration_endpoint.ok_or_else(|| {
        invalid("the authorization server registers no clients (RFC 7591): no registration_endpoint".into())
    })?;
    Ok(AuthorizationServer {
        authorization_endpoint: metadata.authorization_endpoint,
        token_endpoint: metadata.token_endpoint,
        registration_endpoint,
        revocation_endpoint: metadata.revocation_endpoint,
    })
}

/// The metadata URL a server's 401 points to, if it answers one.
async fn advertised_metadata(outbound: &Outbound<'_>, url: &str) -> EngineResult<Option<String>> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json, text/event-stream"));
    let answer = outbound.send(Method::GET, url, headers, ProxyBody::empty()).await?;
    if answer.status != 401 {
        return Ok(None);
    }
    let challenge = answer.headers.get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok());
    Ok(challenge.filter_map(|c| parameter(c, "resource_metadata")).next())
}

/// A parameter's value in a `WWW-Authenticate` challenge (`name="value"`).
fn parameter(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[start..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => rest.split([',', ' ']).next()?,
    };
    Some(value.to_owned())
}

/// The well-known URLs of `kind` for `url` (RFC 8615, the path after the suffix,
/// as RFC 9728 and RFC 8414 place it), most specific first.
fn well_known(url: &str, kind: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else { return Vec::new() };
    let origin = parsed.origin().ascii_serialization();
    let path = parsed.path().trim_end_matches('/');
    let mut urls = Vec::new();
    if !path.is_empty() {
        urls.push(format!("{origin}/.well-known/{kind}{path}"));
    }
    urls.push(format!("{origin}/.well-known/{kind}"));
    urls
}

/// The first of `urls` that answers a JSON document.
async fn first_document<T: serde::de::DeserializeOwned>(
    outbound: &Outbound<'_>,
    urls: &[String],
    what: &str,
) -> EngineResult<T> {
    let mut tried = Vec::new();
    for url in urls {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let answer = outbound.send(Method::GET, url, headers, ProxyBody::empty()).await?;
        if !(200..300).contains(&answer.status) {
            tried.push(format!("{url} ({})", answer.status));
            continue;
        }
        let body = answer.read_to_end(MAX_DOCUMENT).await.map_err(EngineError::outbound)?;
        return serde_json::from_slice(&body).map_err(|e| invalid(format!("{what} at {url}: {e}")));
    }
    Err(invalid(format!("no {what} found: {}", tried.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_put_the_path_after_the_suffix() {
        assert_eq!(
            well_known("https://mcp.example/v1/mcp", "oauth-protected-resource"),
            [
                "https://mcp.example/.well-known/oauth-protected-resource/v1/mcp",
                "https://mcp.example/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(
            well_known("https://as.example/", "openid-configuration"),
            ["https://as.example/.well-known/openid-configuration"]
        );
    }

    #[test]
    fn the_challenge_names_the_metadata() {
        let challenge = r#"Bearer error="invalid_token", resource_metadata="https://mcp.example/.well-known/oauth-protected-resource", scope="mcp""#;
        assert_eq!(
            parameter(challenge, "resource_metadata").as_deref(),
            Some("https://mcp.example/.well-known/oauth-protected-resource")
        );
        assert_eq!(parameter("Bearer realm=x", "resource_metadata"), None);
    }
}
