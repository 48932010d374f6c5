//! The JSON-RPC 2.0 envelope MCP messages travel in: what a client may send
//! (a request, a notification, or a response to the server — this server sends
//! no requests, so it gets none back) and the two shapes of an answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// JSON-RPC's own error codes.
pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
pub const INVALID_PARAMS: i32 = -32602;

/// A message as sent: which kind it is follows from its fields.
#[derive(Deserialize)]
pub struct Incoming {
    jsonrpc: Option<String>,
    /// A number or a string (`null` reads as none: a notification).
    #[serde(default)]
    id: Option<Value>,
    method: Option<String>,
    #[serde(default)]
    params: Option<Value>,
}

/// What a message asks of the server.
pub enum Message {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification, or a response to the server: acknowledged, nothing answered.
    NoAnswer,
}

impl Incoming {
    /// The message, or the error to answer (with the id, when there was one).
    pub fn classify(self) -> Result<Message, Answer> {
        let id = self.id.clone().unwrap_or(Value::Null);
        if self.jsonrpc.as_deref() != Some("2.0") {
            return Err(Answer::error(id, INVALID_REQUEST, "jsonrpc must be \"2.0\""));
        }
        match (self.id, self.method) {
            (None, Some(_)) => Ok(Message::NoAnswer),
            (Some(id @ (Value::Number(_) | Value::String(_))), Some(method)) => {
                Ok(Message::Request { id, method, params: self.params.unwrap_or(Value::Null) })
            }
            (Some(_), Some(_)) => {
                Err(Answer::error(Value::Null, INVALID_REQUEST, "an id is a number or a string"))
            }
            // A response (a result or an error) from the client.
            (_, None) => Ok(Message::NoAnswer),
        }
    }
}

/// The server's answer to one request.
#[derive(Serialize)]
pub struct Answer {
    jsonrpc: &'static str,
    id: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RpcError>,
}

#[derive(Serialize)]
struct RpcError {
    code: i32,
    message: String,
}

impl Answer {
    pub fn result(id: Value, result: Value) -> Self {
        Answer { jsonrpc: "2.0", id, result: Some(result), error: None }
    }

    pub fn error(id: Value, code: i32, message: impl Into<String>) -> Self {
        Answer { jsonrpc: "2.0", id, result: None, error: Some(RpcError { code, message: message.into() }) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn classify(value: Value) -> Result<Message, Answer> {
        serde_json::from_value::<Incoming>(value).unwrap().classify()
    }

    #[test]
    fn requests_notifications_and_malformed_messages_are_told_apart() {
        let request = classify(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}));
        assert!(matches!(request, Ok(Message::Request { ref method, .. }) if method == "ping"));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Ok(Message::NoAnswer)
        ));
        assert!(matches!(classify(json!({"jsonrpc": "2.0", "id": 1, "result": {}})), Ok(Message::NoAnswer)));
        for bad in
            [json!({"id": 1, "method": "ping"}), json!({"jsonrpc": "2.0", "id": [1], "method": "ping"})]
        {
            let Err(answer) = classify(bad.clone()) else { panic!("{bad} accepted") };
            assert_eq!(answer.error.unwrap().code, INVALID_REQUEST, "{bad}");
        }
    }
}
