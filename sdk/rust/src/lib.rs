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
    /// The server answered with a problem document.
    #[error("{detail}")]
    Api { status: u16, kind: String, detail: String },
    #[error("cannot reach SecuriX at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("unexpected answer from SecuriX: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The problem `type`'s last segment (`slow_down`, `not-found`…), if any.
    pub fn problem(&self) -> Option<&str> {
        match self {
            ClientError::Api { kind, .. } => kind.rsplit('/').next(),
            _ => None,
        }
    }
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

/// A SecuriX client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    admin_token: Option<String>,
    agent: Option<String>,
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

    /// Any call: JSON in, JSON out, problem documents as errors.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        for (name, value) in [
            ("securix-api-key", &self.api_key),
            ("securix-admin-token", &self.admin_token),
            ("securix-agent-id", &self.agent),
        ] {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.without_url().to_string(),
        })?;
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
        let text_of = |key: &str| json.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        Err(ClientError::Api { status: status.as_u16(), kind: text_of("type"), detail: text_of("detail") })
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
        Self::decode(self.call(Method::GET, &format!("/v1/sessions/{session_id}{query}"), None).await?)
    }

    pub async fn confirm(&self, session_id: &str, sxc: &str) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/sessions/{session_id}/confirm"),
            Some(&serde_json::json!({ "sxc": sxc })),
        )
        .await
    }

    pub async fn connections(&self, entity_id: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &format!("/v1/entities/{entity_id}/connections"), None).await
    }
}
