//! Registering SecuriX as a client of an authorization server (RFC 7591): a
//! confidential web client with SecuriX's redirect URI, whose secret goes to the
//! vault like an operator's.

use hyper::Method;
use serde::Deserialize;
use serde_json::json;

use super::{MAX_DOCUMENT, Outbound, invalid, json_body};
use crate::error::{EngineError, EngineResult};
use crate::util::secret::SecretString;

pub(super) struct Client {
    pub client_id: String,
    pub client_secret: SecretString,
    /// As the generic plugin names it: `client_secret_post` or `client_secret_basic`.
    pub auth_method: &'static str,
}

#[derive(Deserialize)]
struct Answer {
    client_id: String,
    client_secret: Option<String>,
    token_endpoint_auth_method: Option<String>,
}

pub(super) async fn register(
    outbound: &Outbound<'_>,
    endpoint: &str,
    redirect_uri: &str,
) -> EngineResult<Client> {
    let request = json!({
        "client_name": "SecuriX",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
    });
    let (headers, body) = json_body(&request);
    let answer = outbound.send(Method::POST, endpoint, headers, body).await?;
    let status = answer.status;
    let body = answer.read_to_end(MAX_DOCUMENT).await.map_err(EngineError::outbound)?;
    if !(200..300).contains(&status) {
        // The server's own words, cut short: an error description, never a secret of ours.
        let said: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(invalid(format!("registering a client at {endpoint} answered {status}: {said}")));
    }
    let answer: Answer =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("the registration answer: {e}")))?;
    let secret = answer
        .client_secret
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("the authorization server registered a client without a secret".into()))?;
    let auth_method = match answer.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_post") => "client_secret_post",
        Some("client_secret_basic") => "client_secret_basic",
        Some(other) => {
            return Err(invalid(format!(
                "the client was registered for {other:?}, which SecuriX does not use"
            )));
        }
    };
    Ok(Client { client_id: answer.client_id, client_secret: SecretString::new(secret), auth_method })
}
