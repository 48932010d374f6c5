//! Turns a template into a page response: a fresh CSP nonce, and the security
//! headers every page sends (a strict CSP with `frame-ancestors 'none'`, no
//! third-party assets, no caching, no referrer beyond our own origin).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

/// What every page's frame (`base.html`) shows.
pub struct Frame {
    pub title: &'static str,
    /// The nonce of this response's inline style and script.
    pub nonce: String,
}

impl Frame {
    pub fn new(title: &'static str) -> Self {
        Frame { title, nonce: securix_engine::flows::oauth::pkce::random_token().expose().to_owned() }
    }
}

/// A template with its frame, ready to render.
pub trait Page: Template {
    fn frame(&self) -> &Frame;
}

/// Renders `page`; `form_targets` lists where its forms may send the browser besides
/// our own origin (the providers, for the consent page).
pub fn render(status: StatusCode, page: &impl Page, form_targets: &str) -> HttpResponse {
    render_with(status, page, form_targets, "")
}

/// `render`, with the image sources the page may show (`https:` for the console's
/// provider logos); the end-user pages show none.
pub fn render_with(status: StatusCode, page: &impl Page, form_targets: &str, images: &str) -> HttpResponse {
    let html = match page.render() {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "a page template failed to render");
            return HttpResponse::InternalServerError().content_type("text/html; charset=utf-8").body(
                "<!doctype html><title>Error</title><p>Something went wrong on our side. Code: internal</p>",
            );
        }
    };
    let nonce = &page.frame().nonce;
    let images = if images.is_empty() { String::new() } else { format!("; img-src {images}") };
    let policy = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; form-action 'self' {form_targets}; frame-ancestors 'none'; base-uri 'none'{images}"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", policy))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("cache-control", "no-store"))
        // Not no-referrer: with it, Chromium sends `Origin: null` on our own form posts,
        // and the cross-site check needs the real origin.
        .insert_header(("referrer-policy", "same-origin"))
        .body(html)
}
