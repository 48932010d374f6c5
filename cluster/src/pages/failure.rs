//! Every failure on a page is a page: a status, words for a person, and the
//! problem's code (the API's slug) for support. Never JSON, plain text or an
//! engine's message.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use securix_engine::EngineError;

use super::render::{Frame, Page, render};
use crate::api::problem::ApiError;

/// Why a page could not do what was asked.
#[derive(Debug)]
pub enum PageError {
    /// A form POST from another site (or another site's frame).
    CrossSite,
    /// A form POST from a browser that never loaded our page.
    NoBrowserCookie,
    /// A form POST whose token is not this browser's.
    CsrfToken,
    /// A form or query that is not what our pages send.
    Malformed,
    /// The provider sent the browser back without a `state`.
    NoState,
    /// What the engine refused, as the API would answer it.
    Engine { status: StatusCode, code: &'static str },
}

impl From<EngineError> for PageError {
    fn from(error: EngineError) -> Self {
        tracing::info!(%error, "a page failed");
        let problem = ApiError::from(error);
        PageError::Engine { status: problem.status(), code: problem.slug() }
    }
}

#[derive(Template)]
#[template(path = "failure.html")]
struct FailurePage {
    frame: Frame,
    heading: &'static str,
    message: &'static str,
    code: &'static str,
}

impl Page for FailurePage {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

impl PageError {
    /// The status and the code a person can quote.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            PageError::CrossSite => (StatusCode::FORBIDDEN, "cross-site-request"),
            PageError::NoBrowserCookie | PageError::CsrfToken => {
                (StatusCode::FORBIDDEN, "csrf-token-invalid")
            }
            PageError::Malformed | PageError::NoState => (StatusCode::BAD_REQUEST, "invalid-request"),
            PageError::Engine { status, code } => (*status, code),
        }
    }

    fn words(&self, code: &str) -> (&'static str, &'static str) {
        match (self, code) {
            (PageError::CrossSite | PageError::NoBrowserCookie | PageError::CsrfToken, _) => (
                "This request did not come from this page",
                "Nothing was changed. Reload the page and try again; if you followed a link from another site, start again from the app.",
            ),
            (PageError::NoState, _) => (
                "The provider sent you back without its answer",
                "Nothing was connected. Start again from the app.",
            ),
            (_, "other-browser") => (
                "This page belongs to another browser",
                "It was opened in a different browser than the one where you started. Go back to that browser to continue, or start again from the app here. Nothing was changed.",
            ),
            (_, "not-found") => {
                ("This link is not valid", "It may have been used already. Start again from the app.")
            }
            (_, "expired") => ("This request has expired", "Start again from the app."),
            (_, "conflict") => (
                "This request is already finished",
                "There is nothing left to do here. Start again from the app if you need to.",
            ),
            (_, "rate-limited") => ("Too many attempts", "Wait a minute, then try again."),
            (_, "invalid-request") => {
                ("That did not work", "The request was not what this page expects. Start again from the app.")
            }
            (_, "forbidden") => {
                ("This is not allowed", "The app may not ask for this. Start again from the app.")
            }
            (_, "provider-error" | "plugin-error" | "upstream-error" | "unknown-provider") => (
                "The provider could not be reached",
                "The service you are connecting did not answer as expected. Try again in a moment.",
            ),
            _ => (
                "Something went wrong on our side",
                "Try again in a moment. If it keeps happening, contact the app's support.",
            ),
        }
    }

    /// The page for this failure.
    pub fn page(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let (heading, message) = self.words(code);
        render(status, &FailurePage { frame: Frame::new("Something went wrong"), heading, message, code }, "")
    }
}
