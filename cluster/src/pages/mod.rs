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

/// The forms as the OpenAPI document describes them (`api::openapi`): each page's
/// own fields and the CSRF token every one carries. Nothing here is constructed.
#[allow(dead_code)]
pub mod forms {
    use utoipa::ToSchema;

    /// The consent page's button for one provider.
    #[derive(ToSchema)]
    pub struct AuthorizeForm {
        /// The page's CSRF token, bound to the browser's cookie.
        csrf: String,
        /// The integration to continue to.
        integration: String,
        /// Each connection param the page asks for, as `param.<name>` (`param.subdomain`),
        /// and a credential provider's fields, as `credential.<name>` (`credential.apiKey`).
        #[schema(value_type = Object)]
        #[serde(flatten)]
        params: std::collections::BTreeMap<String, String>,
    }

    /// The consent page's decline button.
    #[derive(ToSchema)]
    pub struct DeclineForm {
        /// The page's CSRF token, bound to the browser's cookie.
        csrf: String,
    }

    /// The device page's code entry.
    #[derive(ToSchema)]
    pub struct CodeForm {
        /// The page's CSRF token, bound to the browser's cookie.
        csrf: String,
        /// The code the user's device shows.
        code: String,
    }

    /// A page for a person (`text/html`).
    #[derive(utoipa::ToResponse)]
    #[response(content_type = "text/html")]
    pub struct HtmlPage(String);

    /// A failure, as a page in words for a person with the problem's code for
    /// support (`text/html`, never JSON).
    #[derive(utoipa::ToResponse)]
    #[response(content_type = "text/html")]
    pub struct FailedPage(String);

    /// Every response of the pages, for the document's components.
    pub fn responses() -> Vec<(&'static str, utoipa::openapi::RefOr<utoipa::openapi::Response>)> {
        use utoipa::ToResponse;
        vec![HtmlPage::response(), FailedPage::response()]
    }
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
