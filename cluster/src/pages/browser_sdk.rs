//! `/sdk/securix.js`: `connect()` from `@securix/client` as one ES module, for pages
//! that load it straight from SecuriX instead of bundling the npm package.

use actix_web::http::header;
use actix_web::{HttpResponse, get};

/// The package's own file: it imports nothing, so it is the browser build as it is.
const SCRIPT: &str = include_str!("../../../sdk/js/packages/client/src/connect.js");

/// The browser SDK (`connect()`) as one ES module.
#[utoipa::path(
    tag = "pages",
    operation_id = "browserSdk",
    responses((status = 200, description = "The ES module", body = String, content_type = "text/javascript; charset=utf-8")),
)]
#[get("/sdk/securix.js")]
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(SCRIPT)
}
