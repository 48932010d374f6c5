//! A client for the SecuriX HTTP API (`../shared/API.md`): what an app's backend,
//! a CLI or a script calls. Errors carry the server's problem document.
//!
//! ```no_run
//! # async fn example() -> Result<(), securix_client::ClientError> {
//! use securix_client::{Client, NewSession};
//! let securix = Client::new("http://127.0.0.1:8080")?.api_key("sxk_…").agent("cli");
//! let session = securix.create_session(&NewSession::device("user_123", &["github"])).await?;
//! println!("Open {} and enter {}", session.auth_url, session.device_auth_code.unwrap_or_default());
//! let status = securix.session(&session.session_id, Some(30)).await?;
//! # Ok(()) }
//! ```

pub mod webhooks;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a problem document. `refused` is what an agent's
    /// grant lacks (`agent-not-allowed`).
    #[error("{detail}")]
    Api { status: u16, kind: String, detail: String, refused: Option<String> },
    /// The user has not connected yet (or must authorize again): hand them the
    /// link and the code, then retry — `Client::wait_for_authorization` waits.
    #[error("the user must authorize first: open {} and enter {}", .0.auth_url, .0.device_auth_code)]
    AuthorizationRequired(AuthorizationRequired),
    #[error("cannot reach SecuriX at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("unexpected answer from SecuriX: {0}")]
    Protocol(String),
    /// An argument that would send the call somewhere else (an id of `.` or `..`, a
    /// proxy path that climbs out of its integration). Nothing was sent.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl ClientError {
    /// The problem `type`'s last segment (`slow_down`, `not-found`…), if any.
    pub fn problem(&self) -> Option<&str> {
        match self {
            ClientError::Api { kind, .. } => kind.rsplit('/').next(),
            ClientError::AuthorizationRequired(_) => Some("authorization-required"),
            _ => None,
        }
    }
}

/// The device session SecuriX began for a user an agent called for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationRequired {
    pub session_id: String,
    /// The page the user opens to enter the code.
    pub auth_url: String,
    pub device_auth_code: String,
    pub expires_at: String,
}

/// `POST /v1/sessions`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSession {
    pub entity_id: String,
    pub flow: String,
    pub providers: BTreeMap<String, ProviderRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sxc_challenge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderRequest {
    pub scopes: Vec<String>,
}

impl NewSession {
    pub fn device(entity_id: &str, integrations: &[&str]) -> Self {
        NewSession {
            entity_id: entity_id.to_owned(),
            flow: "device".into(),
            providers: integrations.iter().map(|i| ((*i).to_owned(), ProviderRequest::default())).collect(),
            sxc_challenge: None,
            origin: None,
        }
    }

    /// A popup session: `sxc_challenge` is BASE64URL(SHA256(sxc)) of the browser's secret.
    pub fn popup(entity_id: &str, integrations: &[&str], sxc_challenge: &str, origin: &str) -> Self {
        NewSession {
            flow: "popup".into(),
            sxc_challenge: Some(sxc_challenge.to_owned()),
            origin: Some(origin.to_owned()),
            ..NewSession::device(entity_id, integrations)
        }
    }
}

/// One of an entity's connections: who and what, never a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    pub integration: String,
    pub provider: String,
    pub account: Value,
    pub scopes: Vec<String>,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreated {
    pub session_id: String,
    pub flow: String,
    pub auth_url: String,
    pub device_auth_code: Option<String>,
    pub interval: Option<u32>,
    pub expires_at: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatus {
    pub session_id: String,
    pub status: String,
    pub providers: BTreeMap<String, Value>,
}

impl SessionStatus {
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "denied" | "expired" | "failed")
    }
}

/// A token for one agent acting for one entity.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentToken {
    pub token_id: String,
    /// `sxa_…`: a secret; give it to the agent, log it nowhere.
    pub token: String,
    pub expires_at: String,
}

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentToken")
            .field("token_id", &self.token_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A SecuriX client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    admin_token: Option<String>,
    agent: Option<String>,
    agent_token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("agent", &self.agent).finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            api_key: None,
            admin_token: None,
            agent: None,
            agent_token: None,
        })
    }

    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = Some(key.to_owned());
        self
    }

    pub fn admin_token(mut self, token: &str) -> Self {
        self.admin_token = Some(token.to_owned());
        self
    }

    pub fn agent(mut self, agent: &str) -> Self {
        self.agent = Some(agent.to_owned());
        self
    }

    /// Calls as an agent token (`sxa_…`): it stands for the API key, the agent and
    /// the entity on the proxy, and reads the sessions of its entity.
    pub fn agent_token(mut self, token: &str) -> Self {
        self.agent_token = Some(token.to_owned());
        self
    }

    /// A request to `path` with the client's identity headers.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in [
            ("securix-api-key", &self.api_key),
            ("securix-admin-token", &self.admin_token),
            ("securix-agent-id", &self.agent),
        ] {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        if let Some(token) = &self.agent_token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        request.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.without_url().to_string(),
        })
    }

    /// Any call: JSON in, JSON out, problem documents as errors.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.send(request).await?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ClientError::Protocol(e.without_url().to_string()))?;
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        let json: Value = serde_json::from_str(&text)
            .map_err(|_| ClientError::Protocol(format!("HTTP {status} with a body that is not JSON")))?;
        if status.is_success() {
            return Ok(json);
        }
        Err(problem_error(status.as_u16(), &json))
    }

    fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ClientError> {
        serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    pub async fn create_session(&self, session: &NewSession) -> Result<SessionCreated, ClientError> {
        let body = serde_json::to_value(session).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Self::decode(self.call(Method::POST, "/v1/sessions", Some(&body)).await?)
    }

    /// A session's status; `wait` long-polls up to that many seconds for a change.
    pub async fn session(&self, session_id: &str, wait: Option<u64>) -> Result<SessionStatus, ClientError> {
        let query = wait.map(|w| format!("?wait={w}")).unwrap_or_default();
        Self::decode(
            self.call(Method::GET, &format!("/v1/sessions/{}{query}", segment(session_id)?), None).await?,
        )
    }

    /// Waits until the user completes (or abandons) the session an
    /// `AuthorizationRequired` names, at most `within`; then retry the call.
    pub async fn wait_for_authorization(
        &self,
        required: &AuthorizationRequired,
        within: Duration,
    ) -> Result<SessionStatus, ClientError> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now()).as_secs();
            let status = self.session(&required.session_id, Some(left.clamp(1, 30))).await?;
            if status.is_final() || left == 0 {
                return Ok(status);
            }
        }
    }

    /// Mints a token for `agent_id` acting for `entity_id` (the app's API key);
    /// give it to the agent's process instead of the key.
    pub async fn mint_agent_token(
        &self,
        agent_id: &str,
        entity_id: &str,
        expires_in: Option<Duration>,
    ) -> Result<AgentToken, ClientError> {
        let mut body = serde_json::json!({ "entityId": entity_id });
        if let Some(expires_in) = expires_in {
            body["expiresIn"] = expires_in.as_secs().into();
        }
        let path = format!("/v1/agents/{}/tokens", segment(agent_id)?);
        Self::decode(self.call(Method::POST, &path, Some(&body)).await?)
    }

    pub async fn confirm(&self, session_id: &str, sxc: &str) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/sessions/{}/confirm", segment(session_id)?),
            Some(&serde_json::json!({ "sxc": sxc })),
        )
        .await
    }

    pub async fn connections(&self, entity_id: &str) -> Result<Vec<Connection>, ClientError> {
        let path = format!("/v1/entities/{}/connections", segment(entity_id)?);
        Self::decode(self.call(Method::GET, &path, None).await?)
    }

    /// Revokes at the provider (when it can) and deletes the vaulted tokens.
    pub async fn delete_connection(&self, entity_id: &str, connection_id: &str) -> Result<(), ClientError> {
        let path = format!("/v1/entities/{}/connections/{}", segment(entity_id)?, segment(connection_id)?);
        self.call(Method::DELETE, &path, None).await.map(drop)
    }

    /// The public keys webhooks are signed with (`whpk_…`), active ones only.
    pub async fn webhook_keys(&self) -> Result<Vec<String>, ClientError> {
        let answer = self.call(Method::GET, "/v1/webhooks/keys", None).await?;
        let keys = answer.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(keys
            .iter()
            .filter(|key| key.get("status").and_then(Value::as_str) == Some("active"))
            .filter_map(|key| key.get("publicKey").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// Calls a provider API as `entity_id`; SecuriX adds the token. `connection_id` picks
    /// one of several accounts. The provider's answer comes back as it is (any status);
    /// SecuriX's own refusals are errors.
    pub async fn proxy(
        &self,
        method: Method,
        integration: &str,
        path: &str,
        entity_id: &str,
        connection_id: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ClientError> {
        let prefix = format!("/v1/proxy/{}/", segment(integration)?);
        let path = format!("{prefix}{}", path.trim_start_matches('/'));
        // A `..` (or `%2e%2e`) in the path would reach another route with this key.
        let resolved = reqwest::Url::parse(&format!("http://securix.invalid{path}"))
            .map_err(|_| ClientError::Invalid("the proxy path is not a URL path".into()))?;
        if !resolved.path().starts_with(&prefix) {
            return Err(ClientError::Invalid("the proxy path climbs out of its integration".into()));
        }
        let mut request = self.request(method, &path).header("securix-entity-id", entity_id);
        if let Some(connection_id) = connection_id {
            request = request.header("securix-connection-id", connection_id);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = self.send(request).await?;
        let from_securix = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
        if !from_securix {
            return Ok(response);
        }
        let status = response.status().as_u16();
        Err(problem_error(status, &response.json().await.unwrap_or_default()))
    }
}

fn problem_error(status: u16, problem: &Value) -> ClientError {
    let text_of = |key: &str| problem.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = text_of("type");
    if kind.ends_with("/authorization-required")
        && let Ok(required) = serde_json::from_value::<AuthorizationRequired>(problem.clone())
    {
        return ClientError::AuthorizationRequired(required);
    }
    let refused = problem.get("refused").and_then(Value::as_str).map(str::to_owned);
    ClientError::Api { status, kind, detail: text_of("detail"), refused }
}

/// One path segment, percent-encoded (like JavaScript's `encodeURIComponent`).
/// One path segment, percent-encoded; `.` and `..` (which URL parsers resolve, in
/// any encoding) are refused.
fn segment(text: &str) -> Result<String, ClientError> {
    if text.is_empty() || text == "." || text == ".." {
        return Err(ClientError::Invalid(format!("{text:?} is not an id")));
    }
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_that_url_parsers_resolve_are_refused() {
        for id in ["", ".", ".."] {
            assert!(matches!(segment(id), Err(ClientError::Invalid(_))), "{id:?}");
        }
        assert_eq!(segment("user 1/..").unwrap(), "user%201%2F..");
    }

    #[tokio::test]
    async fn a_proxy_path_that_climbs_out_is_refused_before_anything_is_sent() {
        // Nothing listens on port 9: a request sent would be Unreachable, not Invalid.
        let client = Client::new("http://127.0.0.1:9").unwrap().api_key("sxk_test").agent("cli");
        for path in ["../../entities/u/connections", "a/%2e%2e/%2E%2E/../admin", "/.."] {
            let refused = client.proxy(Method::GET, "github", path, "u", None, None).await.unwrap_err();
            assert!(matches!(refused, ClientError::Invalid(_)), "{path}: {refused}");
        }
        let sent = client.proxy(Method::GET, "github", "user/repos", "u", None, None).await.unwrap_err();
        assert!(matches!(sent, ClientError::Unreachable { .. }), "{sent}");
        let id = client.delete_connection("..", "con_1").await.unwrap_err();
        assert!(matches!(id, ClientError::Invalid(_)));
    }
}
