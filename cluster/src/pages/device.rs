//! `/device`: the user types the code the CLI showed; the first browser to enter
//! a code owns it, then sees the same consent page as the popup.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::consent::engine_failure;
use super::html::{escape, page};
use super::{browser_cookie, browser_id};
use crate::server::AppState;

fn form(message: Option<&str>) -> String {
    let note = message.map(|m| format!("<p role=\"alert\">{}</p>", escape(m))).unwrap_or_default();
    format!(
        "<h1>Connect a device</h1><p>Enter the code shown on your device or terminal.</p>{note}\
         <form method=\"post\" action=\"/device\"><label for=\"code\">Code</label><br>\
         <input id=\"code\" name=\"code\" autocomplete=\"one-time-code\" autocapitalize=\"characters\" spellcheck=\"false\" \
         placeholder=\"XXXX-XXXX\" maxlength=\"16\" required autofocus> <button class=\"primary\" type=\"submit\">Continue</button></form>"
    )
}

pub async fn show() -> HttpResponse {
    page(StatusCode::OK, "Enter your code", &form(None), None, "")
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn enter(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Form<CodeForm>,
) -> HttpResponse {
    let (browser, fresh) = match browser_id(&request) {
        Some(id) => (id, false),
        None => (securix_engine::oauth::pkce::random_token().expose().to_owned(), true),
    };
    let client = request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let secure = state.engine.settings().public_url.starts_with("https://");
    let mut response = match state.engine.enter_device_code(&body.code, &client, &browser).await {
        Ok(session_id) => {
            HttpResponse::SeeOther().insert_header(("location", format!("/connect/{session_id}"))).finish()
        }
        Err(securix_engine::EngineError::NotFound(_)) => page(
            StatusCode::NOT_FOUND,
            "Enter your code",
            &form(Some("That code is not valid or has expired. Check it and try again.")),
            None,
            "",
        ),
        Err(error) => engine_failure(error),
    };
    if fresh {
        let _ = response.add_cookie(&browser_cookie(&browser, secure));
    }
    response
}
