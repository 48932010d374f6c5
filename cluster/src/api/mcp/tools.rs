//! The MCP tools: `list_connections` (what the agent can call for its user),
//! `request` (the proxy, within the agent's grant) and `connect` (authorization on
//! demand: a device session's link and code for the user). A refusal is a tool
//! error (`isError`) whose structured content carries the problem document with
//! its stable `code`, as the HTTP API would answer it.

use std::collections::BTreeMap;

use securix_engine::proxy::{ProxyBody, ProxyRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::identity::Acting;
use super::super::problem::ApiError;
use crate::server::AppState;

/// The most of a provider's answer a `request` returns (larger ones: the proxy).
const MAX_ANSWER: usize = 1 << 20;
/// Headers of the provider's answer worth a model's attention.
const ANSWER_HEADERS: [&str; 5] =
    ["content-type", "location", "retry-after", "link", "x-ratelimit-remaining"];

/// `tools/list`'s answer.
pub fn list() -> Value {
    let problem = json!({"type": "object", "description": "The problem document, with its `code`"});
    json!({"tools": [
        {
            "name": "list_connections",
            "title": "List connections",
            "description": "The user's connected accounts this agent may call through: integration, account, scopes and status (never a token).",
            "inputSchema": {"type": "object", "additionalProperties": false},
            "outputSchema": {
                "type": "object",
                "properties": {"connections": {"type": "array", "items": {"type": "object"}}},
                "required": ["connections"],
            },
            "annotations": {"readOnlyHint": true},
        },
        {
            "name": "request",
            "title": "Call a provider API",
            "description": "Calls the provider's API as the user through SecuriX, which adds their credential. `path` is under the integration's API base (`/user`, `/repos/o/r/issues`). If the user has not connected yet the result says so, with a link and a code for them.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "integration": {"type": "string", "description": "The integration's key"},
                    "method": {"type": "string", "description": "GET (the default), POST, PUT, PATCH, DELETE…"},
                    "path": {"type": "string"},
                    "query": {"type": "object", "additionalProperties": {"type": "string"}},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body": {"description": "A string sent as it is, or JSON (sent as application/json)"},
                },
                "required": ["integration", "path"],
                "additionalProperties": false,
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body": {"type": "string"},
                    "json": {"description": "The body parsed, when it is JSON"},
                    "error": problem,
                },
            },
        },
        {
            "name": "connect",
            "title": "Ask the user to connect",
            "description": "Begins (or reuses) a device session for the user to connect the integration: answers a link and a code to give them. Call `request` again once they have.",
            "inputSchema": {
                "type": "object",
                "properties": {"integration": {"type": "string", "description": "The integration's key"}},
                "required": ["integration"],
                "additionalProperties": false,
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "sessionId": {"type": "string"},
                    "authUrl": {"type": "string"},
                    "deviceAuthCode": {"type": "string"},
                    "expiresAt": {"type": "string"},
                    "error": problem,
                },
            },
        },
    ]})
}

/// Why a call cannot run at all: a JSON-RPC error, not a tool error.
pub enum CallError {
    UnknownTool(String),
    InvalidArguments(String),
}

/// `tools/call`'s answer for `name` with `arguments`.
pub async fn call(
    state: &AppState,
    acting: &Acting,
    name: &str,
    arguments: Value,
) -> Result<Value, CallError> {
    let arguments = if arguments.is_null() { json!({}) } else { arguments };
    let outcome = match name {
        "list_connections" => {
            let _: Empty = parse(arguments)?;
            list_connections(state, acting).await
        }
        "request" => request(state, acting, parse(arguments)?).await,
        "connect" => {
            let Connect { integration } = parse(arguments)?;
            connect(state, acting, &integration).await
        }
        other => return Err(CallError::UnknownTool(other.to_owned())),
    };
    Ok(outcome.unwrap_or_else(|error| refusal(&error)))
}

fn parse<T: serde::de::DeserializeOwned>(arguments: Value) -> Result<T, CallError> {
    serde_json::from_value(arguments).map_err(|e| CallError::InvalidArguments(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Connect {
    integration: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    integration: String,
    method: Option<String>,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
}

/// A tool's result: words for the model, the same in structure for programs.
fn tool_result(text: String, structured: Value, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": is_error})
}

/// A refusal as a tool error: what to do in words, the problem in structure.
fn refusal(error: &ApiError) -> Value {
    let problem = error.problem_json();
    let text = match error.slug() {
        "authorization-required" => format!(
            "The user has not connected this yet. Ask them to open {} and enter the code {}, then call again.",
            problem["authUrl"].as_str().unwrap_or_default(),
            problem["deviceAuthCode"].as_str().unwrap_or_default(),
        ),
        code => format!("{code}: {}", problem["detail"].as_str().unwrap_or_default()),
    };
    let mut problem = problem;
    problem["code"] = error.slug().into();
    tool_result(text, json!({"error": problem}), true)
}

async fn list_connections(state: &AppState, acting: &Acting) -> Result<Value, ApiError> {
    let connections =
        state.engine.usable_connections(&acting.principal, &acting.agent_id, &acting.entity_id).await?;
    let connections = serde_json::to_value(connections).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let structured = json!({"connections": connections});
    Ok(tool_result(structured.to_string(), structured, false))
}

async fn connect(state: &AppState, acting: &Acting, integration: &str) -> Result<Value, ApiError> {
    let session =
        state.engine.ask_user(&acting.principal, &acting.agent_id, &acting.entity_id, integration).await?;
    let code = session.device_auth_code.clone().unwrap_or_default();
    let structured = json!({
        "sessionId": session.session_id,
        "authUrl": session.auth_url,
        "deviceAuthCode": code,
        "expiresAt": session.expires_at.0.rfc3339(),
    });
    let text = format!(
        "Ask the user to open {} and enter the code {code}; it works until {}. Call `request` again once they have.",
        session.auth_url,
        session.expires_at.0.rfc3339()
    );
    Ok(tool_result(text, structured, false))
}

async fn request(state: &AppState, acting: &Acting, call: Request) -> Result<Value, ApiError> {
    if call.path.contains('?') {
        // Over HTTP a query never reaches the path; here it goes in `query`, checked as one.
        return Err(ApiError::bad_request("put the query in `query`, not in `path`"));
    }
    let method = call.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = hyper::Method::from_bytes(method.as_bytes())
        .map_err(|_| ApiError::bad_request("not an HTTP method"))?;
    let mut headers = hyper::HeaderMap::new();
    for (name, value) in &call.headers {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes());
        let value = hyper::header::HeaderValue::from_str(value);
        let (Ok(name), Ok(value)) = (name, value) else {
            return Err(ApiError::bad_request("a header name or value is malformed"));
        };
        headers.append(name, value);
    }
    let body = match call.body {
        None | Some(Value::Null) => ProxyBody::empty(),
        Some(Value::String(text)) => ProxyBody::from(bytes::Bytes::from(text)),
        Some(json) => {
            if !headers.contains_key(hyper::header::CONTENT_TYPE) {
                headers.insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
            }
            ProxyBody::from(bytes::Bytes::from(json.to_string()))
        }
    };
    let query = (!call.query.is_empty())
        .then(|| serde_urlencoded::to_string(&call.query).map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()?;
    let proxied = ProxyRequest {
        method,
        path: call.path.trim_start_matches('/').to_owned(),
        query,
        connection_id: None,
        headers,
        body,
    };
    let answer = state
        .engine
        .proxy(&acting.principal, &acting.agent_id, &acting.entity_id, &call.integration, proxied)
        .await?;
    let status = answer.status;
    let kept: BTreeMap<String, String> = ANSWER_HEADERS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), answer.headers.get(*name)?.to_str().ok()?.to_owned())))
        .collect();
    let body = answer.read_to_end(MAX_ANSWER).await.map_err(|error| match error {
        securix_engine::http_client::HttpError::TooLarge(limit) => ApiError::too_large(format!(
            "the provider's answer is over {limit} bytes: call it through /v1/proxy, which streams"
        )),
        other => ApiError::from(securix_engine::EngineError::outbound(other)),
    })?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut structured = json!({"status": status, "headers": kept, "body": text});
    if let Ok(parsed) = serde_json::from_slice::<Value>(&body) {
        structured["json"] = parsed;
    }
    Ok(tool_result(format!("HTTP {status}\n{text}"), structured, status >= 400))
}
