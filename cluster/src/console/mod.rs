//! The operator's console at `/console`: server-rendered pages (askama templates in
//! `cluster/templates/console/`, one small script for the copy button), served by
//! the server itself, so it works from the release binary alone. Signing in with
//! the admin token opens a console session (`session`); every change is a form POST
//! that must come from our own page (`Sec-Fetch-Site`, `Origin`) and carry the
//! session's CSRF token, then answers with a redirect (post/redirect/get). The pages
//! read and write through the same engine calls as the admin API.

mod charts;
mod cluster;
mod project;
mod projects;
mod session;
mod sign_in;
mod table;

use actix_web::http::StatusCode;
use actix_web::web::ServiceConfig;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::pages::browser::from_our_origin;
use crate::pages::render::{Page, render_with};
use crate::server::AppState;
pub use session::ConsoleSession;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(sign_in::show)
        .service(sign_in::submit)
        .service(sign_in::sign_out)
        .service(cluster::show)
        .service(projects::show)
        .service(projects::create)
        .service(project::show)
        .service(project::create_key)
        .service(project::revoke_key)
        .service(project::add_integration)
        .service(project::delete_integration)
        .service(project::delete_agent)
        .service(project::retry_delivery)
        .service(project::revoke_connection)
        .service(project::reconnect)
        .service(project::try_integration);
}

/// Renders a console page: provider logos (https) may show.
fn page(status: StatusCode, page: &impl Page) -> HttpResponse {
    render_with(status, page, "", "https: data:")
}

/// Where the browser goes next.
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("location", location)).finish()
}

/// The signed-in operator's session, or the way to the sign-in page.
async fn signed_in(request: &HttpRequest, state: &AppState) -> Result<ConsoleSession, HttpResponse> {
    session::current(request, state).await.ok_or_else(|| see_other("/console/sign-in"))
}

/// A form field set and the CSRF token every console form carries.
#[derive(Deserialize)]
struct Posted<T> {
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

/// A console form POST, once shown to come from our own page in a signed-in
/// session: anything else changes nothing (a cross-site POST is refused with 403).
async fn posted<T: DeserializeOwned>(
    request: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(T, ConsoleSession), HttpResponse> {
    let refused = || {
        HttpResponse::Forbidden().content_type("text/plain").body("This form did not come from the console.")
    };
    from_our_origin(request, state).map_err(|_| refused())?;
    let session = signed_in(request, state).await?;
    let form: Posted<T> = serde_urlencoded::from_bytes(body).map_err(|_| {
        HttpResponse::BadRequest().content_type("text/plain").body("That form is not one the console sends.")
    })?;
    if !bool::from(form.csrf.as_bytes().ct_eq(session.csrf.as_bytes())) {
        return Err(refused());
    }
    Ok((form.fields, session))
}
