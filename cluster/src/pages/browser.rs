//! Binds the pages to the browser that uses them: a random id in an HttpOnly cookie
//! names the browser, the engine binds sessions and provider steps to it, and every
//! form carries a CSRF token derived from it. A POST counts only when it comes from
//! our own pages in that browser (`Sec-Fetch-Site`, `Origin`, then the token).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::failure::PageError;
use crate::server::AppState;

/// The cookie's name: `__Host-` prefixed where it can be (https), so no subdomain
/// and no plain-http page can set or shadow it.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-securix_browser" } else { "securix_browser" }
}

/// One browser, as its cookie names it.
pub struct Browser {
    pub id: String,
    secure: bool,
}

impl Browser {
    /// The browser that sent `request`, or a new one when it has no (valid) cookie.
    pub fn of(request: &HttpRequest, state: &AppState) -> Browser {
        let secure = is_secure(state);
        let id = existing(request, secure)
            .unwrap_or_else(|| securix_engine::flows::oauth::pkce::random_token().expose().to_owned());
        Browser { id, secure }
    }

    /// The token this browser's forms carry: a hash of its id, which no other site
    /// can read or compute.
    pub fn csrf_token(&self) -> String {
        let digest =
            Sha256::new().chain_update(b"securix-csrf\0").chain_update(self.id.as_bytes()).finalize();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    }

    /// Sets the cookie on `response`, new or renewed: it lasts an hour from the
    /// browser's last page, so it outlives any session (an hour at most) begun on it.
    pub fn remember(&self, mut response: HttpResponse) -> HttpResponse {
        let cookie = Cookie::build(cookie_name(self.secure), self.id.clone())
            .path("/")
            .http_only(true)
            // Lax: it must come along on the provider's redirect back to the callback.
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(actix_web::cookie::time::Duration::hours(1))
            .finish();
        if let Err(error) = response.add_cookie(&cookie) {
            tracing::warn!(%error, "cannot set the browser cookie");
        }
        response
    }
}

fn is_secure(state: &AppState) -> bool {
    state.engine.settings().public_url.starts_with("https://")
}

fn existing(request: &HttpRequest, secure: bool) -> Option<String> {
    let cookie = request.cookie(cookie_name(secure))?;
    let id = cookie.value();
    let valid = (16..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| id.to_owned())
}

/// The browser behind a form POST, once it is shown to come from our own page in
/// that browser; anything else changes nothing.
pub fn posted_from_our_page(
    request: &HttpRequest,
    state: &AppState,
    csrf: &str,
) -> Result<Browser, PageError> {
    from_our_origin(request, state)?;
    let secure = is_secure(state);
    let id = existing(request, secure).ok_or(PageError::NoBrowserCookie)?;
    let browser = Browser { id, secure };
    if !bool::from(browser.csrf_token().as_bytes().ct_eq(csrf.as_bytes())) {
        return Err(PageError::CsrfToken);
    }
    Ok(browser)
}

/// `scheme://host[:port]` of the public URL, as browsers write it in `Origin`.
/// Refuses a POST another site's page sent (`Sec-Fetch-Site`, else `Origin`).
pub fn from_our_origin(request: &HttpRequest, state: &AppState) -> Result<(), PageError> {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(PageError::CrossSite);
    }
    if let Some(origin) = headers.get("origin") {
        let ours = public_origin(&state.engine.settings().public_url);
        if origin.as_bytes() != b"null" && Some(origin.as_bytes()) != ours.as_deref().map(str::as_bytes) {
            return Err(PageError::CrossSite);
        }
    }
    Ok(())
}

fn public_origin(public_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(public_url).ok()?;
    Some(url.origin().ascii_serialization())
}
