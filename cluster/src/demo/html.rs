//! The frame of the demo's own pages (its app and its provider, the other side of
//! SecuriX): escaping, the layout, a strict CSP. SecuriX's pages are templates.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f;line-height:1.5}\
h1{font-size:1.4rem}.card{border:1px solid #d0d0d7;border-radius:.6rem;padding:1rem;margin:1rem 0}\
button,input{font:inherit;padding:.5rem .9rem;border-radius:.4rem;border:1px solid #888}\
button.primary{background:#2747d6;color:#fff;border-color:#2747d6}code{background:#f1f1f4;padding:0 .3rem}\
.muted{color:#5a5a66;font-size:.9rem}ul{padding-left:1.2rem}";

/// A complete page. `script` is inline JavaScript allowed by a per-response nonce.
pub fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    script: Option<&str>,
    form_targets: &str,
) -> HttpResponse {
    page_with_policy(status, title, body, script, |nonce| {
        format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; form-action 'self' {form_targets}; frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// A complete page whose Content-Security-Policy `policy(nonce)` writes.
pub fn page_with_policy(
    status: StatusCode,
    title: &str,
    body: &str,
    script: Option<&str>,
    policy: impl FnOnce(&str) -> String,
) -> HttpResponse {
    let nonce = securix_engine::flows::oauth::pkce::random_token();
    let script_tag =
        script.map(|js| format!("<script nonce=\"{}\">{js}</script>", nonce.expose())).unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · SecuriX</title><style nonce=\"{}\">{STYLE}</style></head><body><main>{body}</main>{script_tag}</body></html>",
        escape(title),
        nonce.expose()
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", policy(nonce.expose())))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("cache-control", "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(html)
}
