//! `/connect/{sessionId}`: who asks (project, agent, entity), for which providers
//! and scopes; one button per provider, and one to decline. The first browser to
//! open a popup session's page owns it; every POST proves it came from that page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use std::collections::BTreeMap;

use securix_engine::EngineError;
use securix_engine::catalog::{ConnectionParam, ParamError};
use securix_engine::credentials::CredentialError;
use securix_engine::flows::consent::{Authorization, ConsentContext, Typed};
use securix_engine::model::session::{Flow, SessionStatus};
use securix_engine::util::secret::SecretString;
use serde::Deserialize;

use super::browser::Browser;
use super::failure::PageError;
use super::forms::{AuthorizeForm as AuthorizeFormDoc, DeclineForm, FailedPage, HtmlPage};
use super::render::{Frame, Page, render};
use super::{form_targets, our_form, scope_words};
use crate::api::problem::ApiError;
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
    /// A credential provider's fields, and where the user finds what to type.
    credentials: Vec<CredentialView>,
    help_url: Option<String>,
    /// Why what the user typed was refused, in words.
    problem: Option<String>,
    status: &'static str,
}

/// A credential field; a secret one is never filled in again.
struct CredentialView {
    name: String,
    label: String,
    secret: bool,
    /// A key file's text (PEM), typed into a box that keeps its line breaks; like a
    /// secret, never filled in again.
    multiline: bool,
    value: String,
}

/// A connection param's field, with what the user typed last.
struct AskView {
    name: String,
    label: String,
    example: Option<String>,
    value: String,
}

impl ProviderView {
    /// Why the engine refused what the user typed, in words, when the user can put
    /// it right on this page; `None` for any other failure (a page of its own).
    fn problem_words(&self, error: &EngineError) -> Option<String> {
        let ask = |name: &str| self.asks.iter().find(|a| a.name == name);
        let field = |name: &str| self.credentials.iter().find(|f| f.name == name).map(|f| &f.label);
        match error {
            EngineError::Param(ParamError::Missing(name)) => {
                Some(format!("Enter your {}.", ask(name)?.label))
            }
            EngineError::Param(ParamError::Refused { name, .. }) => {
                let ask = ask(name)?;
                let example = ask.example.as_ref().map(|e| format!(" For example: {e}")).unwrap_or_default();
                Some(format!("That is not a valid {}.{example}", ask.label))
            }
            EngineError::Credential(CredentialError::Missing(name)) => {
                Some(format!("Enter your {}.", field(name)?))
            }
            EngineError::Credential(CredentialError::Malformed(name)) => {
                Some(format!("That {} is too long or holds characters it may not.", field(name)?))
            }
            EngineError::CredentialsRejected { status } => {
                let status = status.map(|s| format!(" ({s})")).unwrap_or_default();
                Some(format!("{} refused these credentials{status}. Check them and try again.", self.name))
            }
            EngineError::Upstream(_) if !self.credentials.is_empty() => Some(format!(
                "{} could not be reached to check them. Nothing was saved; try again in a moment.",
                self.name
            )),
            _ => None,
        }
    }

    /// Fills in again what the user typed, secrets excepted.
    fn refill(&mut self, form: &AuthorizeForm) {
        for ask in &mut self.asks {
            ask.value = form.field("param.", &ask.name).unwrap_or_default();
        }
        for field in self.credentials.iter_mut().filter(|f| !f.secret) {
            field.value = form.field("credential.", &field.name).unwrap_or_default();
        }
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
                credentials: p
                    .credentials
                    .into_iter()
                    .map(|f| CredentialView {
                        name: f.name,
                        label: f.label,
                        secret: f.secret,
                        multiline: f.multiline,
                        value: String::new(),
                    })
                    .collect(),
                help_url: p.credentials_help_url.filter(|url| url.starts_with("https://")),
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
    /// The fields named `{prefix}<name>`, by name.
    fn fields(&self, prefix: &str) -> BTreeMap<String, String> {
        let pick = |(field, value): (&String, &String)| {
            Some((field.strip_prefix(prefix)?.to_owned(), value.clone()))
        };
        self.typed.iter().filter_map(pick).collect()
    }

    fn field(&self, prefix: &str, name: &str) -> Option<String> {
        self.typed.get(&format!("{prefix}{name}")).cloned()
    }

    fn typed(&self) -> Typed {
        let secret = |(name, value): (String, String)| (name, SecretString::new(value));
        Typed {
            params: self.fields("param."),
            credentials: self.fields("credential.").into_iter().map(secret).collect(),
        }
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
    match state.engine.begin_authorization(&id, &form.integration, &browser.id, &form.typed()).await {
        Ok(Authorization::Redirect(url)) => HttpResponse::SeeOther()
            .insert_header(("location", url))
            .insert_header(("cache-control", "no-store"))
            .finish(),
        Ok(Authorization::Finished(outcome)) => super::callback::finished(&outcome),
        Err(error) => match ask_again(&state, &id, &browser, &form, &error).await {
            Some(page) => {
                let status = ApiError::from(error).status();
                render(status, &page, form_targets(state.engine.settings().allow_loopback_http))
            }
            None => PageError::from(error).page(),
        },
    }
}

/// The consent page again, what the user typed kept (secrets excepted) and why it
/// was refused, when the user can put it right there.
async fn ask_again(
    state: &AppState,
    id: &str,
    browser: &Browser,
    form: &AuthorizeForm,
    error: &EngineError,
) -> Option<ConsentPage> {
    let context = state.engine.consent_context(id, &browser.id).await.ok()?;
    let mut page = ConsentPage::new(context, browser);
    let provider = page.providers.iter_mut().find(|p| p.integration == form.integration)?;
    provider.problem = Some(provider.problem_words(error)?);
    provider.refill(form);
    Some(page)
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
