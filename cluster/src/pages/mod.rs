//! The end-user pages: the popup's consent page, device code entry, the OAuth
//! callback. Templates (`cluster/templates/`, askama: escaping on, checked at
//! build time), bound to the browser that uses them, no third-party assets.

pub mod browser;
pub mod browser_sdk;
pub mod callback;
pub mod consent;
pub mod device;
pub mod failure;
pub mod render;
mod scope_words;

use actix_web::HttpRequest;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::server::AppState;
use browser::{Browser, posted_from_our_page};
use failure::PageError;

/// Where forms may send the browser next: our own pages and the providers (https,
/// or loopback http where the operator allows it).
pub fn form_targets(allow_loopback_http: bool) -> &'static str {
    if allow_loopback_http { "https: http://127.0.0.1:* http://localhost:*" } else { "https:" }
}

/// A form with the CSRF token every one of our forms carries.
#[derive(Deserialize)]
struct Posted<T> {
    /// Missing counts as wrong: a 403, not a malformed form.
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

/// A form posted from one of our pages in this browser, and the browser; anything
/// else (another site's post, a form we never sent) is a page saying so.
fn our_form<T: DeserializeOwned>(
    request: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(T, Browser), PageError> {
    let posted: Posted<T> = serde_urlencoded::from_bytes(body).map_err(|_| PageError::Malformed)?;
    let browser = posted_from_our_page(request, state, &posted.csrf)?;
    Ok((posted.fields, browser))
}
