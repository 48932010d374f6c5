//! `/console/projects/{p}`: one project — its API keys (a new one shown once),
//! integrations (added from the catalog, with search and logos), connections,
//! recent sessions, webhook deliveries (with retry) and token uses — and the
//! changes its forms make.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use securix_engine::EngineError;
use securix_engine::admin::{AuditFilter, ConnectionFilter, SessionFilter};
use securix_engine::catalog::{AuthMode, CatalogQuery};
use securix_engine::flows::views::SessionCreated;
use securix_engine::model::agent::{Agent, Grant};
use securix_engine::model::integration::IntegrationDraft;
use securix_engine::model::page::PageRequest;
use securix_engine::util::secret::SecretString;
use securix_engine::webhooks::deliveries::DeliveryFilter;
use serde::{Deserialize, Serialize};

use super::table::{Pages, Row, RowAction, Table, text};
use super::{ConsoleSession, page, posted, see_other, signed_in};
use crate::api::problem::ApiError;
use crate::pages::render::{Frame, Page};
use crate::server::AppState;

/// Rows each section shows; the API and the CLI page through the rest.
const SHOWN: usize = 25;

/// A catalog entry the operator may add.
struct Match {
    id: String,
    name: String,
    auth_mode: String,
    logo: String,
    /// The first letter, shown where the logo cannot load.
    initial: String,
    /// OAuth entries need the project's client id and secret.
    needs_client: bool,
}

#[derive(Template)]
#[template(path = "console/project.html")]
struct ProjectPage {
    frame: Frame,
    csrf: String,
    project_id: String,
    name: String,
    /// A key just created: shown this once.
    new_key: Option<String>,
    device_link: Option<DeviceLink>,
    problem: Option<String>,
    search: String,
    entity: String,
    matches: Vec<Match>,
    sections: Vec<Table>,
    charts: Vec<super::charts::Chart>,
    /// Integrations called over the day beyond those charted.
    uncharted: usize,
    /// The day had more than the charts read: they are a lower bound.
    partial: bool,
}

impl Page for ProjectPage {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

/// What an engine refusal says to the operator: the problem's detail.
pub fn said(error: &EngineError) -> String {
    error.to_string().split_once(' ').map(|(_, rest)| rest.to_owned()).unwrap_or_else(|| error.to_string())
}

/// An agent's grant in a few words: each integration and what limits it.
fn grants_in_words(agent: &Agent) -> String {
    let Some(grants) = &agent.integrations else { return "every integration".into() };
    let limits = |grant: &Grant| {
        let named = [("scopes", &grant.scopes), ("methods", &grant.methods), ("paths", &grant.paths)];
        let limits: Vec<String> = named
            .iter()
            .filter_map(|(what, list)| Some(format!("{what} {}", list.as_ref()?.join(" "))))
            .collect();
        if limits.is_empty() { String::new() } else { format!(" ({})", limits.join("; ")) }
    };
    grants
        .iter()
        .map(|(integration, grant)| format!("{integration}{}", limits(grant)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which section the operator pages through, and from where.
struct Paging {
    section: String,
    after: String,
}

/// Each section's page: the first, or the one the operator paged to; and the links
/// to the next page and back to the first (the catalog search is left behind, the
/// entity filter kept).
struct Pager<'a> {
    base: &'a str,
    entity: &'a str,
    paging: Option<&'a Paging>,
}

impl Pager<'_> {
    fn request(&self, section: &str) -> PageRequest {
        let cursor = self.paging.filter(|p| p.section == section).map(|p| p.after.clone());
        PageRequest { limit: Some(SHOWN), cursor }
    }

    fn links(&self, section: &str, next_cursor: &Option<String>) -> Pages {
        let link = |after: Option<&str>| {
            let mut query = vec![("entity", self.entity)];
            if let Some(after) = after {
                query.extend([("section", section), ("after", after)]);
            }
            let query = serde_urlencoded::to_string(query).unwrap_or_default();
            format!("{}?{query}#{section}", self.base)
        };
        let paged = self.paging.is_some_and(|p| p.section == section);
        Pages {
            next: next_cursor.as_deref().map(|after| link(Some(after))),
            first: paged.then(|| link(None)),
        }
    }
}

/// Rows of `items`' `fields`, as JSON names them.
fn rows<T: Serialize>(
    items: &[T],
    fields: &[&str],
    actions: impl Fn(&serde_json::Value) -> Vec<RowAction>,
) -> Vec<Row> {
    items
        .iter()
        .filter_map(|item| serde_json::to_value(item).ok())
        .map(|item| Row {
            cells: fields.iter().map(|f| text(f.split('.').fold(&item, |v, step| &v[step]))).collect(),
            actions: actions(&item),
        })
        .collect()
}

/// A device session the operator just began (a reconnect, a try): its link and code.
pub struct DeviceLink {
    heading: String,
    /// What the link is for, in a sentence.
    purpose: String,
    url: String,
    code: String,
    expires_at: String,
}

#[derive(Default)]
struct Extra {
    new_key: Option<String>,
    device_link: Option<DeviceLink>,
    problem: Option<String>,
    /// The catalog search, and the entity whose connections are shown.
    search: String,
    entity: String,
    paging: Option<Paging>,
}

async fn project_page(
    state: &AppState,
    session: &ConsoleSession,
    project_id: &str,
    extra: Extra,
) -> Result<HttpResponse, EngineError> {
    let engine = &state.engine;
    let project = engine.project(project_id).await?;
    let base = format!("/console/projects/{project_id}");
    let pager = Pager { base: &base, entity: &extra.entity, paging: extra.paging.as_ref() };
    let keys = engine.list_api_keys(project_id, &pager.request("keys")).await?;
    let agents = engine.list_agents(project_id, &pager.request("agents")).await?;
    let integrations = engine.list_integration_page(project_id, &pager.request("integrations")).await?;
    let entity = Some(extra.entity.trim().to_owned()).filter(|e| !e.is_empty());
    let by_entity = ConnectionFilter { entity_id: entity, ..ConnectionFilter::default() };
    let connections =
        engine.list_project_connections(project_id, &by_entity, &pager.request("connections")).await?;
    let sessions =
        engine.list_sessions(project_id, &SessionFilter::default(), &pager.request("sessions")).await?;
    let deliveries = engine
        .list_webhook_deliveries(project_id, &DeliveryFilter::default(), &pager.request("deliveries"))
        .await?;
    let audit = engine.list_audit(project_id, &AuditFilter::default(), &pager.request("audit")).await?;
    let activity = engine.activity(project_id).await?;
    let events = engine.recent_events(project_id, SHOWN + 1).await?;
    let sections = vec![
        Table {
            id: "keys",
            title: "API keys",
            headings: vec!["Name", "Prefix", "Created", "Last used", "Id"],
            rows: rows(
                &keys
                    .items
                    .iter()
                    .cloned()
                    .map(crate::api::admin_reads::ApiKeyView::from)
                    .collect::<Vec<_>>(),
                &["name", "prefix", "createdAt", "lastUsedAt", "apiKeyId"],
                |k| {
                    vec![RowAction {
                        label: "Revoke",
                        action: format!("{base}/api-keys/{}/revoke", text(&k["apiKeyId"])),
                        danger: true,
                    }]
                },
            ),
            empty: "No API keys. Create one below for your app's backend; it is shown once.",
            more: keys.next_cursor.is_some(),
            pages: pager.links("keys", &keys.next_cursor),
        },
        Table {
            id: "agents",
            title: "Agents",
            headings: vec!["Agent", "May use", "Asks users", "Expires", "Created"],
            rows: agents
                .items
                .iter()
                .map(|a| Row {
                    cells: vec![
                        a.agent_id.clone(),
                        grants_in_words(a),
                        if a.connect_on_demand { "yes".into() } else { "no".into() },
                        a.expires_at.map_or_else(|| "-".into(), |at| at.rfc3339()),
                        a.created_at.rfc3339(),
                    ],
                    actions: vec![RowAction {
                        label: "Delete",
                        action: format!("{base}/agents/{}/delete", a.agent_id),
                        danger: true,
                    }],
                })
                .collect(),
            empty: "No agents. Create one with securix agent create, then grant it integrations, methods and paths with securix agent grant.",
            more: agents.next_cursor.is_some(),
            pages: pager.links("agents", &agents.next_cursor),
        },
        Table {
            id: "integrations",
            title: "Integrations",
            headings: vec!["Key", "Provider", "Client id", "Scopes"],
            rows: rows(&integrations.items, &["integration", "provider", "clientId", "scopes"], |i| {
                let row = format!("{base}/integrations/{}", text(&i["integration"]));
                vec![
                    RowAction { label: "Try it", action: format!("{row}/try"), danger: false },
                    RowAction { label: "Delete", action: format!("{row}/delete"), danger: true },
                ]
            }),
            empty: "No integrations. Search the catalog below and add the providers your users connect.",
            more: integrations.next_cursor.is_some(),
            pages: pager.links("integrations", &integrations.next_cursor),
        },
        Table {
            id: "connections",
            title: "Connections",
            headings: vec!["Entity", "Integration", "Account", "Status", "Refreshed"],
            rows: rows(
                &connections.items,
                &["entityId", "integration", "account.id", "status", "refreshedAt"],
                |c| {
                    let (entity, connection) = (text(&c["entityId"]), text(&c["connectionId"]));
                    let row = format!("{base}/connections/{entity}/{connection}");
                    vec![
                        RowAction {
                            label: "Reconnect link",
                            action: format!("{row}/reconnect"),
                            danger: false,
                        },
                        RowAction { label: "Revoke", action: format!("{row}/revoke"), danger: true },
                    ]
                },
            ),
            empty: "No one is connected yet. Start a session from your app, or with securix connect, and the connection appears here.",
            more: connections.next_cursor.is_some(),
            pages: pager.links("connections", &connections.next_cursor),
        },
        Table {
            id: "sessions",
            title: "Recent sessions",
            headings: vec!["Session", "Entity", "Flow", "Status", "Why it failed", "Created"],
            rows: rows(
                &sessions.items,
                &["sessionId", "entityId", "flow", "status", "error", "createdAt"],
                |_| Vec::new(),
            ),
            empty: "No sessions yet.",
            more: sessions.next_cursor.is_some(),
            pages: pager.links("sessions", &sessions.next_cursor),
        },
        Table {
            id: "events",
            title: "Recent events",
            headings: vec!["Type", "Entity", "Connection", "Status", "At"],
            rows: events
                .iter()
                .take(SHOWN)
                .map(|e| Row {
                    cells: vec![
                        serde_json::to_value(e.kind).ok().as_ref().map(text).unwrap_or_default(),
                        e.entity_id.clone().unwrap_or_else(|| "-".into()),
                        e.connection_id.clone().unwrap_or_else(|| "-".into()),
                        e.status.clone().unwrap_or_else(|| "-".into()),
                        e.created_at.rfc3339(),
                    ],
                    actions: Vec::new(),
                })
                .collect(),
            empty: "No events yet: connecting, renewing and revoking each add one, sent to your webhook endpoints.",
            more: events.len() > SHOWN,
            pages: Pages::default(),
        },
        Table {
            id: "deliveries",
            title: "Webhook deliveries",
            headings: vec!["Event", "Endpoint", "Try", "Status", "HTTP", "ms", "At", "Error"],
            rows: rows(
                &deliveries.items,
                &["eventId", "endpointId", "attempt", "status", "responseStatus", "latencyMs", "at", "error"],
                |d| {
                    if d["status"] == "delivered" {
                        return Vec::new();
                    }
                    vec![RowAction {
                        label: "Retry",
                        action: format!("{base}/deliveries/{}/retry", text(&d["deliveryId"])),
                        danger: false,
                    }]
                },
            ),
            empty: "No deliveries yet. Add a webhook endpoint (securix webhook add) to hear of connections as they change.",
            more: deliveries.next_cursor.is_some(),
            pages: pager.links("deliveries", &deliveries.next_cursor),
        },
        Table {
            id: "audit",
            title: "Token uses",
            headings: vec!["At", "Entity", "Agent", "Integration", "Method", "Host", "Answer"],
            rows: rows(
                &audit.items,
                &["at", "entityId", "agentId", "integration", "method", "host", "status"],
                |_| Vec::new(),
            ),
            empty: "No calls through the proxy yet.",
            more: audit.next_cursor.is_some(),
            pages: pager.links("audit", &audit.next_cursor),
        },
    ];
    let matches = if extra.search.trim().is_empty() {
        Vec::new()
    } else {
        let query = CatalogQuery {
            q: Some(extra.search.clone()),
            auth_mode: None,
            category: None,
            limit: 12,
            cursor: None,
        };
        engine
            .catalog()
            .search(&query)
            .entries
            .iter()
            .map(|e| Match {
                id: e.id.clone(),
                name: e.name.clone(),
                auth_mode: e.auth_mode.as_str().to_owned(),
                logo: e.logo(),
                initial: e.name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default(),
                needs_client: matches!(e.auth_mode, AuthMode::Oauth2 | AuthMode::Oauth2ClientCredentials),
            })
            .collect()
    };
    let status = if extra.problem.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(page(
        status,
        &ProjectPage {
            frame: Frame::new("Project"),
            csrf: session.csrf.clone(),
            project_id: project.id,
            name: project.name,
            new_key: extra.new_key,
            device_link: extra.device_link,
            problem: extra.problem,
            search: extra.search,
            entity: extra.entity,
            charts: super::charts::of(&activity),
            uncharted: activity.integrations.len().saturating_sub(super::charts::INTEGRATION_CHARTS),
            partial: activity.partial,
            matches,
            sections,
        },
    ))
}

/// The page, or what went wrong as a page would say it.
async fn answer(state: &AppState, session: &ConsoleSession, project_id: &str, extra: Extra) -> HttpResponse {
    match project_page(state, session, project_id, extra).await {
        Ok(page) => page,
        Err(error) => {
            let problem = ApiError::from(error);
            HttpResponse::build(problem.status()).content_type("text/plain").body(format!(
                "{} ({})",
                problem.slug(),
                problem.status()
            ))
        }
    }
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    catalog: String,
    #[serde(default)]
    entity: String,
    /// A section paged to (`keys`, `connections`, …) and the cursor it starts after.
    section: Option<String>,
    after: Option<String>,
}

#[get("/console/projects/{projectId}")]
pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    project: web::Path<String>,
    query: web::Query<Search>,
) -> HttpResponse {
    match signed_in(&request, &state).await {
        Ok(session) => {
            let query = query.into_inner();
            let paging = query.section.zip(query.after).map(|(section, after)| Paging { section, after });
            let extra = Extra { search: query.catalog, entity: query.entity, paging, ..Extra::default() };
            answer(&state, &session, &project, extra).await
        }
        Err(to_sign_in) => to_sign_in,
    }
}

#[derive(Deserialize)]
struct NewKey {
    name: String,
}

#[post("/console/projects/{projectId}/api-keys")]
pub async fn create_key(
    state: web::Data<AppState>,
    request: HttpRequest,
    project: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, session): (NewKey, _) = match posted(&request, &state, &body).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    let extra = match state.engine.issue_api_key(&project, &form.name).await {
        Ok((_, key)) => Extra { new_key: Some(key.expose().to_owned()), ..Extra::default() },
        Err(error) => Extra { problem: Some(said(&error)), ..Extra::default() },
    };
    answer(&state, &session, &project, extra).await
}

#[derive(Deserialize)]
struct Nothing {}

/// A row's button: once the POST is shown to be the console's, runs `run`, then back
/// to the page at `anchor`.
async fn button(
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
    project_id: &str,
    anchor: &str,
    run: impl std::future::Future<Output = Result<(), EngineError>>,
) -> HttpResponse {
    let (_, session): (Nothing, _) = match posted(request, state, body).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    change(state, &session, project_id, run.await, anchor).await
}

/// Runs a change, then back to the project's page (with what went wrong, if it did).
async fn change(
    state: &AppState,
    session: &ConsoleSession,
    project_id: &str,
    done: Result<(), EngineError>,
    anchor: &str,
) -> HttpResponse {
    match done {
        Ok(()) => see_other(&format!("/console/projects/{project_id}#{anchor}")),
        Err(error) => {
            answer(state, session, project_id, Extra { problem: Some(said(&error)), ..Extra::default() })
                .await
        }
    }
}

#[post("/console/projects/{projectId}/api-keys/{keyId}/revoke")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (project, key) = path.into_inner();
    button(&state, &request, &body, &project, "keys", state.engine.revoke_api_key(&project, &key)).await
}

#[derive(Deserialize)]
struct NewIntegration {
    key: String,
    provider: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

#[post("/console/projects/{projectId}/integrations")]
pub async fn add_integration(
    state: web::Data<AppState>,
    request: HttpRequest,
    project: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, session): (NewIntegration, _) = match posted(&request, &state, &body).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    let draft = IntegrationDraft {
        key: form.key.trim().to_owned(),
        provider: form.provider,
        client_id: form.client_id.trim().to_owned(),
        client_secret: SecretString::new(form.client_secret.trim()),
        scopes: Vec::new(),
        config: serde_json::json!({}),
    };
    let done = state.engine.put_integration(&project, draft).await.map(drop);
    change(&state, &session, &project, done, "integrations").await
}

#[post("/console/projects/{projectId}/integrations/{key}/delete")]
pub async fn delete_integration(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (project, key) = path.into_inner();
    button(&state, &request, &body, &project, "integrations", state.engine.delete_integration(&project, &key))
        .await
}

#[post("/console/projects/{projectId}/agents/{agentId}/delete")]
pub async fn delete_agent(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (project, agent) = path.into_inner();
    button(&state, &request, &body, &project, "agents", state.engine.delete_agent(&project, &agent)).await
}

#[post("/console/projects/{projectId}/deliveries/{deliveryId}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (project, delivery) = path.into_inner();
    button(
        &state,
        &request,
        &body,
        &project,
        "deliveries",
        state.engine.retry_webhook_delivery(&project, &delivery),
    )
    .await
}

#[post("/console/projects/{projectId}/connections/{entityId}/{connectionId}/revoke")]
pub async fn revoke_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (project, entity, connection) = path.into_inner();
    let run = state.engine.revoke_project_connection(&project, &entity, &connection);
    button(&state, &request, &body, &project, "connections", run).await
}

/// A button that begins an operator device session: once the POST is shown to be
/// the console's, the page again with the session's link, code and expiry.
async fn device_link(
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
    project_id: &str,
    (heading, purpose): (String, String),
    begin: impl std::future::Future<Output = Result<SessionCreated, EngineError>>,
) -> HttpResponse {
    let (_, session): (Nothing, _) = match posted(request, state, body).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    let extra = match begin.await {
        Ok(created) => Extra {
            device_link: Some(DeviceLink {
                heading,
                purpose,
                url: created.auth_url,
                code: created.device_auth_code.unwrap_or_default(),
                expires_at: created.expires_at.0.rfc3339(),
            }),
            ..Extra::default()
        },
        Err(error) => Extra { problem: Some(said(&error)), ..Extra::default() },
    };
    answer(state, &session, project_id, extra).await
}

#[post("/console/projects/{projectId}/connections/{entityId}/{connectionId}/reconnect")]
pub async fn reconnect(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (project, entity, connection) = path.into_inner();
    let words = (
        format!("Reconnect link for {entity}"),
        "Send the user this link and code; the connection keeps its id once they sign in again.".to_owned(),
    );
    let begin = state.engine.operator_reconnect(&project, &entity, &connection);
    device_link(&state, &request, &body, &project, words, begin).await
}

#[post("/console/projects/{projectId}/integrations/{key}/try")]
pub async fn try_integration(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (project, key) = path.into_inner();
    let words = (
        format!("Try {key}"),
        format!(
            "Open the link, enter the code and connect an account: it appears under Connections as {}.",
            securix_engine::admin::TRY_ENTITY
        ),
    );
    let begin = state.engine.operator_try(&project, &key);
    device_link(&state, &request, &body, &project, words, begin).await
}
