//! `/oauth/callback`: the provider sends the browser back here. The popup then
//! tells its opener (`postMessage` to the app's exact origin, never `*`; the app
//! also has the server-side long-poll when COOP cut `window.opener`) and closes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use securix_engine::flows::consent::CallbackOutcome;
use securix_engine::model::session::{Flow, SessionStatus};
use serde::Deserialize;

use super::consent::engine_failure;
use super::html::{escape, page};
use crate::server::AppState;

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

pub async fn receive(state: web::Data<AppState>, query: web::Query<CallbackQuery>) -> HttpResponse {
    let Some(oauth_state) = query.state.as_deref() else {
        return super::error_page(
            StatusCode::BAD_REQUEST,
            "The provider sent you back without a state. Start again from the app.",
        );
    };
    match state
        .engine
        .oauth_callback(oauth_state, query.code.as_deref(), query.error.as_deref(), query.iss.as_deref())
        .await
    {
        Ok(outcome) => finished(&state, &outcome),
        Err(error) => engine_failure(error),
    }
}

/// The page after a provider step: more providers to go, or done.
pub fn finished(state: &AppState, outcome: &CallbackOutcome) -> HttpResponse {
    let message = match outcome.status {
        SessionStatus::Denied => "You declined. Nothing was connected.",
        SessionStatus::Failed => "The provider could not complete the connection. Start again from the app.",
        SessionStatus::Completed | SessionStatus::AwaitingConfirmation => "Done. You can close this window.",
        _ => "",
    };
    if message.is_empty() {
        // Another provider of the session still waits for consent.
        return HttpResponse::SeeOther()
            .insert_header(("location", format!("/connect/{}", outcome.session_id)))
            .finish();
    }
    let done_for = if outcome.flow == Flow::Device { " Return to your device." } else { "" };
    let body = format!("<h1>{}</h1><p>{}</p>", escape(message), escape(done_for));
    let script = match (&outcome.origin, outcome.flow) {
        (Some(origin), Flow::Popup) => {
            let message = serde_json::json!({ "type": "securix:session", "sessionId": outcome.session_id, "status": outcome.status });
            let origin_json = serde_json::to_string(origin).unwrap_or_else(|_| "\"null\"".into());
            Some(format!(
                "try{{if(window.opener){{window.opener.postMessage({message},{origin_json});}}}}catch(e){{}}setTimeout(function(){{window.close();}},300);"
            ))
        }
        _ => None,
    };
    let _ = state;
    page(StatusCode::OK, "Connected", &body, script.as_deref(), "")
}
