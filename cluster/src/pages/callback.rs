//! `/oauth/callback`: the provider sends the browser back here; only the browser
//! that started the step may finish it. The popup then tells its opener
//! (`postMessage` to the app's exact origin, never `*`; the app also has the
//! server-side long-poll when COOP cut `window.opener`) and closes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use securix_engine::flows::consent::CallbackOutcome;
use securix_engine::model::session::{Flow, SessionStatus};
use serde::Deserialize;

use super::browser::Browser;
use super::failure::PageError;
use super::forms::{FailedPage, HtmlPage};
use super::render::{Frame, Page, render};
use crate::server::AppState;

/// What the provider sends back (RFC 6749 §4.1.2, RFC 9207 `iss`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    /// The step's `state`; required.
    state: Option<String>,
    /// The authorization code, on success.
    code: Option<String>,
    /// The provider's error code, on failure.
    error: Option<String>,
    /// The authorization server's issuer.
    iss: Option<String>,
}

/// The redirect URI registered at providers.
///
/// Completes the provider step in the browser that consented, then tells the
/// app's page and closes.
#[utoipa::path(
    tag = "pages",
    operation_id = "oauthCallback",
    params(CallbackQuery),
    responses(
        (status = 200, response = HtmlPage),
        (status = "4XX", response = FailedPage),
        (status = "5XX", response = FailedPage),
    ),
)]
#[get("/oauth/callback")]
pub async fn receive(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let received = async {
        let query: CallbackQuery =
            serde_urlencoded::from_str(request.query_string()).map_err(|_| PageError::Malformed)?;
        let oauth_state = query.state.as_deref().ok_or(PageError::NoState)?;
        // A browser without our cookie cannot be the one that started the step; a
        // throwaway id makes the engine say so without changing anything.
        let browser = Browser::of(&request, &state);
        Ok::<_, PageError>(
            state
                .engine
                .oauth_callback(
                    oauth_state,
                    query.code.as_deref(),
                    query.error.as_deref(),
                    query.iss.as_deref(),
                    &browser.id,
                )
                .await?,
        )
    };
    match received.await {
        Ok(outcome) => finished(&outcome),
        Err(error) => error.page(),
    }
}

#[derive(Template)]
#[template(path = "done.html")]
struct DonePage<'a> {
    frame: Frame,
    heading: &'static str,
    device: bool,
    /// What the popup reports to its opener.
    report: Option<Report<'a>>,
}

struct Report<'a> {
    origin: &'a str,
    session_id: &'a str,
    status: &'static str,
}

impl Page for DonePage<'_> {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

/// The page after a provider step: more providers to go, or done.
pub fn finished(outcome: &CallbackOutcome) -> HttpResponse {
    let heading = match outcome.status {
        SessionStatus::Denied => "You declined. Nothing was connected.",
        SessionStatus::Failed => "The provider could not complete the connection. Start again from the app.",
        SessionStatus::Completed | SessionStatus::AwaitingConfirmation => "Done. You can close this window.",
        SessionStatus::Pending | SessionStatus::Authorizing | SessionStatus::Expired => {
            // Another provider of the session still waits for consent.
            return HttpResponse::SeeOther()
                .insert_header(("location", format!("/connect/{}", outcome.session_id)))
                .finish();
        }
    };
    let report = match (&outcome.origin, outcome.flow) {
        (Some(origin), Flow::Popup) => {
            Some(Report { origin, session_id: &outcome.session_id, status: outcome.status.as_str() })
        }
        _ => None,
    };
    let page =
        DonePage { frame: Frame::new("Connected"), heading, device: outcome.flow == Flow::Device, report };
    render(StatusCode::OK, &page, "")
}
