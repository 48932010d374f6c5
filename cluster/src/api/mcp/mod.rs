//! `POST /v1/mcp`: an MCP server for agents over the Streamable HTTP transport
//! (MCP 2025-11-25), stateless: every POST carries one JSON-RPC message and a
//! request is answered with one JSON body (the transport allows it in place of an
//! event stream); notifications get 202. There is no server-initiated stream, so
//! a GET answers 405, as the transport says. No session id is issued: each call
//! is authenticated on its own, by an agent token or the identity headers.
//!
//! The protocol surface is four methods (`initialize`, `ping`, `tools/list`,
//! `tools/call`) over JSON-RPC: a few serde types here rather than an SDK whose
//! server half is tied to another HTTP stack (`rmcp` speaks `http` 1.x and tower;
//! actix speaks 0.2).

mod rpc;
mod tools;

use actix_web::http::header::{CONTENT_TYPE, ORIGIN};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use serde_json::{Value, json};

use self::rpc::{Answer, Incoming, Message};
use super::identity::{self, Acting, Presented};
use super::problem::ApiError;
use super::problem::responses::{
    BadRequest, Forbidden, Internal, MethodNotAllowed, PayloadTooLarge, RequestTimeout, Unauthorized,
};
use crate::server::AppState;

/// The protocol versions this server speaks, newest first.
const VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// The most one message may carry (a `request` tool call's body included).
const MAX_MESSAGE: usize = 1 << 20;

/// Send one JSON-RPC message of the Model Context Protocol.
#[utoipa::path(
    tag = "agents",
    operation_id = "mcp",
    security(("apiKey" = []), ("agentToken" = [])),
    params(
        ("securix-agent-id" = Option<String>, Header, description = "The calling agent; required with the API key (an agent token names it)"),
        ("securix-entity-id" = Option<String>, Header, description = "The end user; required with the API key (an agent token names it)"),
        ("MCP-Protocol-Version" = Option<String>, Header, description = "2025-11-25, 2025-06-18 or 2025-03-26"),
    ),
    request_body(description = "One JSON-RPC 2.0 message", content(("application/json"))),
    responses(
        (status = 200, description = "The JSON-RPC answer to a request", content(("application/json"))),
        (status = 202, description = "A notification or a response, accepted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[post("/v1/mcp")]
pub async fn message(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let acting = checked_caller(&state, &request).await?;
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::bad_request("send one JSON-RPC message with content-type: application/json"));
    }
    let bytes = read_capped(body).await?;
    let answer = match serde_json::from_slice::<Incoming>(&bytes) {
        Err(error) => {
            Answer::error(Value::Null, rpc::PARSE_ERROR, format!("not one JSON-RPC message: {error}"))
        }
        Ok(incoming) => match incoming.classify() {
            Err(answer) => answer,
            Ok(Message::NoAnswer) => return Ok(HttpResponse::Accepted().finish()),
            Ok(Message::Request { id, method, params }) => answer(&state, &acting, id, &method, params).await,
        },
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// The event stream a client may open: this server sends nothing of its own.
#[utoipa::path(
    tag = "agents",
    operation_id = "mcpStream",
    security(("apiKey" = []), ("agentToken" = [])),
    responses(
        (status = 401, response = Unauthorized),
        (status = 405, response = MethodNotAllowed),
        (status = 500, response = Internal),
    ),
)]
#[get("/v1/mcp")]
pub async fn stream(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    checked_caller(&state, &request).await?;
    Err(ApiError::method_not_allowed("this MCP server opens no event stream: POST each message"))
}

/// The caller, once the transport's checks pass: who it acts as, a protocol
/// version this server speaks, and no foreign page behind it (`Origin`: a page's
/// script may not reach an agent's tools from a browser).
async fn checked_caller(state: &AppState, request: &HttpRequest) -> Result<Acting, ApiError> {
    let header =
        |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).and_then(identity::present);
    let presented = Presented {
        api_key: header(identity::API_KEY),
        agent_id: header(identity::AGENT_ID),
        entity_id: header(identity::ENTITY_ID),
        authorization: header("authorization"),
    };
    let acting = presented.acting(&state.engine).await?;
    if let Some(version) = header("mcp-protocol-version")
        && !VERSIONS.contains(&version)
    {
        return Err(ApiError::bad_request(format!(
            "MCP protocol version {version:?} is not one of {VERSIONS:?}"
        )));
    }
    if let Some(origin) = request.headers().get(ORIGIN) {
        let project = state.engine.project(&acting.principal.project_id).await?;
        let allowed = origin.to_str().is_ok_and(|origin| project.origins.iter().any(|o| o == origin));
        if !allowed {
            return Err(ApiError::forbidden("this Origin is not among the project's allowed origins"));
        }
    }
    Ok(acting)
}

async fn read_capped(mut body: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut whole = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if whole.len() + chunk.len() > MAX_MESSAGE {
            return Err(ApiError::too_large(format!("an MCP message is limited to {MAX_MESSAGE} bytes")));
        }
        whole.extend_from_slice(&chunk);
    }
    Ok(whole.freeze())
}

/// The answer to one request.
async fn answer(state: &AppState, acting: &Acting, id: Value, method: &str, params: Value) -> Answer {
    match method {
        "initialize" => {
            let asked = params.get("protocolVersion").and_then(Value::as_str);
            let version = asked.filter(|v| VERSIONS.contains(v)).unwrap_or(VERSIONS[0]);
            Answer::result(
                id,
                json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": false}},
                    "serverInfo": {"name": "securix", "title": "SecuriX", "version": env!("CARGO_PKG_VERSION")},
                    "instructions": "Call provider APIs as your user with `request`; `list_connections` shows what they have connected. When a result says the user must authorize, give them the link and code, then call again.",
                }),
            )
        }
        "ping" => Answer::result(id, json!({})),
        "tools/list" => Answer::result(id, tools::list()),
        "tools/call" => {
            let Some(name) = params.get("name").and_then(Value::as_str) else {
                return Answer::error(id, rpc::INVALID_PARAMS, "tools/call needs a tool `name`");
            };
            let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
            match tools::call(state, acting, name, arguments).await {
                Ok(result) => Answer::result(id, result),
                Err(tools::CallError::UnknownTool(name)) => {
                    Answer::error(id, rpc::INVALID_PARAMS, format!("no tool named {name:?}"))
                }
                Err(tools::CallError::InvalidArguments(why)) => {
                    Answer::error(id, rpc::INVALID_PARAMS, format!("arguments: {why}"))
                }
            }
        }
        other => Answer::error(id, rpc::METHOD_NOT_FOUND, format!("no method {other:?}")),
    }
}
