//! `/device`: the user types the code the CLI showed; the first browser to enter
//! a code owns it, then sees the same consent page as the popup. The page warns,
//! as RFC 8628 §5.4 asks, to enter only a code from a device in front of the user.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::browser::Browser;
use super::failure::PageError;
use super::forms::{CodeForm as CodeFormDoc, FailedPage};
use super::our_form;
use super::render::{Frame, Page, render};
use crate::client_address::client_key;
use crate::server::AppState;

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    frame: Frame,
    csrf: String,
    alert: Option<&'static str>,
}

impl Page for DevicePage {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

fn entry(status: StatusCode, browser: &Browser, alert: Option<&'static str>) -> HttpResponse {
    let page = DevicePage { frame: Frame::new("Enter your code"), csrf: browser.csrf_token(), alert };
    render(status, &page, "")
}

/// Device code entry (RFC 8628); then the consent page.
#[utoipa::path(
    tag = "pages",
    operation_id = "devicePage",
    responses(
        (status = 200, description = "The code entry page", body = String, content_type = "text/html",
            headers(("set-cookie" = String, description = "The browser cookie the page's forms are bound to"))),
        (status = "5XX", response = FailedPage),
    ),
)]
#[get("/device")]
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let browser = Browser::of(&request, &state);
    browser.remember(entry(StatusCode::OK, &browser, None))
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// Submit a device code: on to its session's consent page.
#[utoipa::path(
    tag = "pages",
    operation_id = "enterDeviceCode",
    request_body(content = inline(CodeFormDoc), content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To the session's consent page",
            headers(("location" = String, description = "`/connect/{sessionId}`"))),
        (status = 404, description = "The code entry page again: that code is not valid or has expired", body = String, content_type = "text/html"),
        (status = "4XX", response = FailedPage),
        (status = "5XX", response = FailedPage),
    ),
)]
#[post("/device")]
pub async fn enter(state: web::Data<AppState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let entered = async {
        let (form, browser): (CodeForm, _) = our_form(&request, &state, &body)?;
        let client = client_key(&request, &state.trusted_proxies);
        match state.engine.enter_device_code(&form.code, &client, &browser.id).await {
            Ok(session_id) => Ok(HttpResponse::SeeOther()
                .insert_header(("location", format!("/connect/{session_id}")))
                .finish()),
            Err(securix_engine::EngineError::NotFound(_)) => Ok(entry(
                StatusCode::NOT_FOUND,
                &browser,
                Some("That code is not valid or has expired. Check it and try again."),
            )),
            Err(error) => Err(PageError::from(error)),
        }
    };
    entered.await.unwrap_or_else(|error| error.page())
}
