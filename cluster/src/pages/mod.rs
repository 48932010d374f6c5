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

use serde::de::DeserializeOwned;

use failure::PageError;

/// Where forms may send the browser next: our own pages and the providers (https,
/// or loopback http where the operator allows it).
pub fn form_targets(allow_loopback_http: bool) -> &'static str {
    if allow_loopback_http { "https: http://127.0.0.1:* http://localhost:*" } else { "https:" }
}

/// A form body our pages sent; anything else is a page saying so, not a plain-text 400.
fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(body).map_err(|_| PageError::Malformed)
}
