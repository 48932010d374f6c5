//! `/connect/{sessionId}`: who asks (project, agent, entity), for which providers
//! and scopes; one button per provider, and one to decline. The first browser to
//! open a popup session's page owns it; every POST proves it came from that page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use std::collections::BTreeMap;

use securix_engine::EngineError;
use securix_engine::catalog::{ConnectionParam, ParamError, ParamValues};
use securix_engine::flows::consent::{Authorization, ConsentContext};
use securix_engine::model::session::{Flow, SessionStatus};
use serde::Deserialize;

use super::browser::Browser;
use super::failure::PageError;
use super::forms::{AuthorizeForm as AuthorizeFormDoc, DeclineForm, FailedPage, HtmlPage};
use super::render::{Frame, Page, render};
use super::{form_targets, our_form, scope_words};
use crate::server::AppState;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    frame: Frame,
    session_id: String,
    csrf: String,
    project: String,
    project_badge: Badge,
    agent: String,
    entity: String,
    device: bool,
    providers: Vec<ProviderView>,
}

impl Page for ConsentPage {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

struct ProviderView {
    integration: String,
    name: String,
    badge: Badge,
    scopes: Vec<ScopeView>,
    /// Still waiting for the user's consent.
    open: bool,
    /// The connection params the user types before continuing.
    asks: Vec<AskView>,
    /// Why what the user typed was refused, in words.
    problem: Option<String>,
    status: &'static str,
}

/// A connection param's field, with what the user typed last.
struct AskView {
    name: String,
    label: String,
    example: Option<String>,
    value: String,
}

impl ProviderView {
    /// Shows what the user typed again, with why the engine refused it.
    fn ask_again(&mut self, typed: &ParamValues, refused: &ParamError) {
        let name = match refused {
            ParamError::Missing(name) | ParamError::Refused { name, .. } | ParamError::Unknown(name) => name,
        };
        for ask in &mut self.asks {
            ask.value = typed.get(&ask.name).cloned().unwrap_or_default();
        }
        let Some(ask) = self.asks.iter().find(|a| &a.name == name) else { return };
        let example = ask.example.as_ref().map(|e| format!(" For example: {e}")).unwrap_or_default();
        self.problem = Some(match refused {
            ParamError::Missing(_) => format!("Enter your {}.", ask.label),
            _ => format!("That is not a valid {}.{example}", ask.label),
        });
    }
}

struct ScopeView {
    raw: String,
    words: Option<&'static str>,
}

/// A provider's or project's badge: its first letter on one of eight colours
/// (`.hue0`–`.hue7`), the same colour for the same name every time.
struct Badge {
    letter: char,
    hue: u8,
}

impl Badge {
    fn of(name: &str) -> Self {
        let letter = name.chars().find(|c| c.is_alphanumeric()).map_or('?', |c| c.to_ascii_uppercase());
        let hue = name.bytes().fold(0u8, |sum, b| sum.wrapping_mul(31).wrapping_add(b)) % 8;
        Badge { letter, hue }
    }
}

fn status_words(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Pending | SessionStatus::Authorizing => "Waiting",
        SessionStatus::AwaitingConfirmation | SessionStatus::Completed => "Connected",
        SessionStatus::Denied => "Declined",
        SessionStatus::Expired => "Expired",
        SessionStatus::Failed => "Failed",
    }
}

impl ConsentPage {
    fn new(context: ConsentContext, browser: &Browser) -> Self {
        let providers = context
            .providers
            .into_iter()
            .map(|p| ProviderView {
                badge: Badge::of(&p.provider_name),
                open: matches!(p.status, SessionStatus::Pending | SessionStatus::Authorizing),
                status: status_words(p.status),
                scopes: p
                    .scopes
                    .into_iter()
                    .map(|raw| ScopeView { words: scope_words::words(&raw), raw })
                    .collect(),
                integration: p.integration,
                name: p.provider_name,
                asks: p.asks.into_iter().map(AskView::from).collect(),
                problem: None,
            })
            .collect();
        ConsentPage {
            frame: Frame::new("Connect your accounts"),
            session_id: context.session_id,
            csrf: browser.csrf_token(),
            project_badge: Badge::of(&context.project_name),
            project: context.project_name,
            agent: context.agent_id,
            entity: context.entity_id,
            device: context.flow == Flow::Device,
            providers,
        }
    }
}

/// The popup: who asks, which providers and scopes; consent buttons.
#[utoipa::path(
    tag = "pages",
    operation_id = "consentPage",
    params(("sessionId" = String, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The consent page", body = String, content_type = "text/html",
            headers(("set-cookie" = String, description = "The browser cookie the page's forms are bound to"))),
        (status = "4XX", response = FailedPage),
        (status = "5XX", response = FailedPage),
    ),
)]
#[get("/connect/{sessionId}")]
pub async fn show(state: web::Data<AppState>, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let browser = Browser::of(&request, &state);
    let response = match state.engine.consent_context(&id, &browser.id).await {
        Ok(context) => render(
            StatusCode::OK,
            &ConsentPage::new(context, &browser),
            form_targets(state.engine.settings().allow_loopback_http),
        ),
        Err(error) => PageError::from(error).page(),
    };
    browser.remember(response)
}

impl From<ConnectionParam> for AskView {
    fn from(param: ConnectionParam) -> Self {
        AskView { name: param.name, label: param.label, example: param.example, value: String::new() }
    }
}

#[derive(Deserialize)]
struct AuthorizeForm {
    integration: String,
    /// The connection params the user typed, as `param.<name>`.
    #[serde(flatten)]
    typed: BTreeMap<String, String>,
}

impl AuthorizeForm {
    fn params(&self) -> ParamValues {
        let param = |(field, value): (&String, &String)| {
            Some((field.strip_prefix("param.")?.to_owned(), value.clone()))
        };
        self.typed.iter().filter_map(param).collect()
    }
}

/// Continue to a provider: a redirect to its authorization page, or (a
/// client-credentials provider, with nothing to approve there) the finished page.
#[utoipa::path(
    tag = "pages",
    operation_id = "authorizeConsent",
    params(("sessionId" = String, Path, description = "The session's id")),
    request_body(content = inline(AuthorizeFormDoc), content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To the provider's authorization page",
            headers(("location" = String, description = "The provider's authorization URL"))),
        (status = "4XX", response = FailedPage),
        (status = "5XX", response = FailedPage),
    ),
)]
#[post("/connect/{sessionId}/authorize")]
pub async fn authorize(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, browser): (AuthorizeForm, _) = match our_form(&request, &state, &body) {
        Ok(posted) => posted,
        Err(error) => return error.page(),
    };
    let typed = form.params();
    match state.engine.begin_authorization(&id, &form.integration, &browser.id, &typed).await {
        Ok(Authorization::Redirect(url)) => HttpResponse::SeeOther()
            .insert_header(("location", url))
            .insert_header(("cache-control", "no-store"))
            .finish(),
        Ok(Authorization::Finished(outcome)) => super::callback::finished(&outcome),
        Err(EngineError::Param(refused)) if !matches!(refused, ParamError::Unknown(_)) => {
            let context = match state.engine.consent_context(&id, &browser.id).await {
                Ok(context) => context,
                Err(error) => return PageError::from(error).page(),
            };
            let mut page = ConsentPage::new(context, &browser);
            if let Some(provider) = page.providers.iter_mut().find(|p| p.integration == form.integration) {
                provider.ask_again(&typed, &refused);
            }
            render(StatusCode::BAD_REQUEST, &page, form_targets(state.engine.settings().allow_loopback_http))
        }
        Err(error) => PageError::from(error).page(),
    }
}

/// The decline form carries nothing but its token.
#[derive(Deserialize)]
struct Decline {}

/// Decline: the session is denied.
#[utoipa::path(
    tag = "pages",
    operation_id = "denyConsent",
    params(("sessionId" = String, Path, description = "The session's id")),
    request_body(content = inline(DeclineForm), content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, response = HtmlPage),
        (status = "4XX", response = FailedPage),
        (status = "5XX", response = FailedPage),
    ),
)]
#[post("/connect/{sessionId}/deny")]
pub async fn deny(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let denied = async {
        let (Decline {}, browser) = our_form(&request, &state, &body)?;
        Ok::<_, PageError>(state.engine.deny_session(&id, &browser.id).await?)
    };
    match denied.await {
        Ok(outcome) => super::callback::finished(&outcome),
        Err(error) => error.page(),
    }
}
