//! The end-user pages: the popup's consent page, device code entry, the OAuth
//! callback. Small, accessible, no third-party assets.

pub mod browser_sdk;
pub mod callback;
pub mod consent;
pub mod device;
pub mod html;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

pub use html::error_page;

/// The cookie naming this browser for the device flow.
pub const BROWSER_COOKIE: &str = "securix_browser";

/// The browser id from the cookie, if any.
pub fn browser_id(request: &HttpRequest) -> Option<String> {
    request.cookie(BROWSER_COOKIE).map(|c| c.value().to_owned()).filter(|v| v.len() >= 16 && v.len() <= 128)
}

/// A fresh browser cookie: HttpOnly, SameSite=Lax (it must survive the provider's
/// redirect back), Secure whenever SecuriX is served over https.
pub fn browser_cookie(value: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(BROWSER_COOKIE, value.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::hours(1))
        .finish()
}

/// Where forms may send the browser next: our own pages and the providers (https,
/// or loopback http where the operator allows it).
pub fn form_targets(allow_loopback_http: bool) -> &'static str {
    if allow_loopback_http { "https: http://127.0.0.1:* http://localhost:*" } else { "https:" }
}
