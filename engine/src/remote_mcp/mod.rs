//! Remote MCP servers (`provider: "mcp_oauth2"`): from a server's URL alone, find
//! the authorization server that protects it (RFC 9728 protected resource
//! metadata, then RFC 8414 / OpenID discovery), register SecuriX there as a client
//! (RFC 7591), and answer the generic OAuth 2.0 plugin's configuration that
//! results: PKCE, the server named as the resource of every grant (RFC 8707), and
//! the server as the proxy's API base, so an agent reaches it through
//! `/v1/proxy/{integration}/` with the user's token added (streams kept open).

mod discovery;
mod registration;

use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, Uri};
use serde_json::{Value, json};

use crate::error::{EngineError, EngineResult};
use crate::http_client::{Answer, HttpClient, ProxyBody};
use crate::util::secret::SecretString;

/// What registering at a remote MCP server's authorization server gives.
pub(crate) struct Registered {
    /// The generic `oauth2` plugin's configuration.
    pub config: Value,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The scopes the server says it supports, to ask for when none are given.
    pub scopes: Vec<String>,
}

/// Where outbound calls go, and within how long each must answer.
pub(crate) struct Outbound<'a> {
    pub http: &'a HttpClient,
    pub timeout: std::time::Duration,
}

/// The most a metadata document or a registration answer may weigh.
const MAX_DOCUMENT: usize = 64 << 10;

impl Outbound<'_> {
    /// One call, within the timeout, where the outbound policy allows.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: ProxyBody,
    ) -> EngineResult<Answer> {
        let uri: Uri = url.parse().map_err(|_| invalid(format!("{url:?} is not a URL")))?;
        self.http.send(method, uri, headers, body, self.timeout).await.map_err(EngineError::outbound)
    }
}

/// A JSON body and its content type.
fn json_body(value: &Value) -> (HeaderMap, ProxyBody) {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    (headers, ProxyBody::from(value.to_string().into_bytes()))
}

/// Discovers the authorization server of the MCP server at `url` and registers
/// a client there whose redirect URI is `redirect_uri`.
pub(crate) async fn register(
    outbound: &Outbound<'_>,
    url: &str,
    redirect_uri: &str,
) -> EngineResult<Registered> {
    let url = check_url(url)?;
    let resource = discovery::resource_metadata(outbound, url).await?;
    let server = discovery::authorization_server(outbound, &resource.authorization_server).await?;
    let client = registration::register(outbound, &server.registration_endpoint, redirect_uri).await?;
    let mut config = json!({
        // Served like a catalog entry: no "who am I" call, one account per user.
        "authMode": "oauth2",
        "mcpServer": url,
        "authorizationUrl": server.authorization_endpoint,
        "tokenUrl": server.token_endpoint,
        "apiBaseUrl": url,
        "pkce": true,
        "clientAuth": client.auth_method,
        "authorizeParams": {"resource": url},
        "tokenParams": {"resource": url},
    });
    if let Some(revocation) = server.revocation_endpoint {
        config["revocationUrl"] = revocation.into();
    }
    Ok(Registered {
        config,
        client_id: client.client_id,
        client_secret: client.client_secret,
        scopes: resource.scopes,
    })
}

/// An absolute http(s) URL without credentials or a fragment.
fn check_url(url: &str) -> EngineResult<&str> {
    let parsed = url::Url::parse(url).map_err(|_| invalid(format!("{url:?} is not a URL")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(invalid(format!("{url:?} is not an http(s) URL")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.fragment().is_some() {
        return Err(invalid("the MCP server's URL may not carry credentials or a fragment".into()));
    }
    Ok(url)
}

fn invalid(why: String) -> EngineError {
    EngineError::Invalid(format!("mcp_oauth2: {why}"))
}
