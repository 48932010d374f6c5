//! `/connect/{sessionId}`: who asks (project, agent, entity), for which providers
//! and scopes; one button per provider, and one to decline.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use securix_engine::model::session::SessionStatus;
use serde::Deserialize;

use super::html::{escape, page};
use super::{browser_id, error_page, form_targets};
use crate::server::AppState;

/// A page for an engine error, in words for a person.
pub(super) fn engine_failure(error: securix_engine::EngineError) -> HttpResponse {
    let status = match &error {
        securix_engine::EngineError::NotFound(_) => StatusCode::NOT_FOUND,
        securix_engine::EngineError::Expired(_) => StatusCode::GONE,
        securix_engine::EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
        securix_engine::EngineError::Conflict(_) => StatusCode::CONFLICT,
        securix_engine::EngineError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_GATEWAY,
    };
    let message = match &error {
        securix_engine::EngineError::NotFound(_) => {
            "This link is not valid. Start again from the app.".to_owned()
        }
        securix_engine::EngineError::Expired(_) => {
            "This request has expired. Start again from the app.".to_owned()
        }
        other => other.to_string(),
    };
    error_page(status, &message)
}

pub async fn show(state: web::Data<AppState>, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let browser = browser_id(&request);
    let context = match state.engine.consent_context(&id, browser.as_deref()).await {
        Ok(context) => context,
        Err(error) => return engine_failure(error),
    };
    let mut providers = String::new();
    for provider in &context.providers {
        let scopes: String =
            provider.scopes.iter().map(|s| format!("<li><code>{}</code></li>", escape(s))).collect();
        let action = if provider.status == SessionStatus::Pending
            || provider.status == SessionStatus::Authorizing
        {
            format!(
                "<form method=\"post\" action=\"/connect/{}/authorize\"><input type=\"hidden\" name=\"integration\" value=\"{}\">\
                 <button class=\"primary\" type=\"submit\">Continue to {}</button></form>",
                escape(&context.session_id),
                escape(&provider.integration),
                escape(&provider.provider_name)
            )
        } else {
            format!("<p class=\"muted\">{}</p>", escape(&format!("{:?}", provider.status)))
        };
        providers.push_str(&format!(
            "<section class=\"card\" aria-label=\"{name}\"><h2>{name}</h2><p>Access requested:</p><ul>{scopes}</ul>{action}</section>",
            name = escape(&provider.provider_name)
        ));
    }
    let body = format!(
        "<h1>{project} wants to connect your accounts</h1>\
         <p><strong>{agent}</strong> of <strong>{project}</strong> asks on behalf of <strong>{entity}</strong>.</p>{providers}\
         <form method=\"post\" action=\"/connect/{id}/deny\"><button type=\"submit\">Decline</button></form>\
         <p class=\"muted\">SecuriX keeps the tokens; {project} never sees them.</p>",
        project = escape(&context.project_name),
        agent = escape(&context.agent_id),
        entity = escape(&context.entity_id),
        id = escape(&context.session_id),
    );
    page(
        StatusCode::OK,
        "Connect your accounts",
        &body,
        None,
        form_targets(state.engine.settings().allow_loopback_http),
    )
}

#[derive(Deserialize)]
pub struct AuthorizeForm {
    integration: String,
}

pub async fn authorize(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
    form: web::Form<AuthorizeForm>,
) -> HttpResponse {
    let browser = browser_id(&request);
    match state.engine.begin_authorization(&id, &form.integration, browser.as_deref()).await {
        Ok(url) => HttpResponse::SeeOther()
            .insert_header(("location", url))
            .insert_header(("cache-control", "no-store"))
            .finish(),
        Err(error) => engine_failure(error),
    }
}

pub async fn deny(state: web::Data<AppState>, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let browser = browser_id(&request);
    match state.engine.deny_session(&id, browser.as_deref()).await {
        Ok(outcome) => super::callback::finished(&state, &outcome),
        Err(error) => engine_failure(error),
    }
}
