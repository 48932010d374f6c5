//! The administration and `connect` commands: thin wrappers over the HTTP API via
//! `securix-client`, with one clear line on error and a non-zero exit.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

mod events;
mod listing;
mod views;

use anyhow::Context;
use clap::{Args, Subcommand};
pub use events::{EventsCommand, events};
pub use listing::PageArgs;
use listing::{Listing, table};
use reqwest::Method;
use securix_client::{Client, NewSession, ProviderRequest};
use serde_json::{Value, json};
pub use views::{
    AuditCommand, ConnectionCommand, EntityCommand, SessionCommand, audit, connection, entity, session,
};

#[derive(Args, Debug)]
pub struct Remote {
    /// The SecuriX server.
    #[arg(long, env = "SECURIX_URL", default_value = "http://127.0.0.1:8080", global = true)]
    pub url: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AdminAuth {
    /// The admin token.
    #[arg(long, env = "SECURIX_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
}

#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// Create a project.
    Create { name: String },
    /// List the projects.
    List(#[command(flatten)] PageArgs),
    /// Show a project.
    Show { id: String },
    /// Rename a project.
    Rename { id: String, name: String },
    /// Delete a project and everything of it (its keys stop working at once).
    Delete { id: String },
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Create an API key (shown once).
    Create {
        #[arg(long)]
        project: String,
        name: String,
    },
    /// Delete an API key, effective at once.
    Delete {
        #[arg(long)]
        project: String,
        id: String,
    },
    /// List a project's API keys (never a key).
    List {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show an API key (never the key).
    Show {
        #[arg(long)]
        project: String,
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Create or replace an agent.
    Create {
        #[arg(long)]
        project: String,
        agent_id: String,
        /// Integrations it may use (all when none are named).
        #[arg(long = "integration")]
        integrations: Vec<String>,
    },
    /// Grant an agent what it may use (replaces its grant): `--grant` is the JSON
    /// body of `PUT …/agents/{agentId}` (`{"integrations": {"github": {"methods":
    /// ["GET"], "paths": ["/repos/**"]}}, "connectOnDemand": true}`), or `@file`.
    Grant {
        #[arg(long)]
        project: String,
        agent_id: String,
        #[arg(long)]
        grant: String,
    },
    /// List a project's agents.
    List {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show an agent.
    Show {
        #[arg(long)]
        project: String,
        agent_id: String,
    },
    /// Delete an agent: its calls are refused at once.
    Delete {
        #[arg(long)]
        project: String,
        agent_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// List the providers SecuriX knows (every page).
    List {
        /// Words that must each appear in the id, the name or a category.
        #[arg(long)]
        search: Option<String>,
        /// oauth2, oauth2_client_credentials, api_key, basic, jwt…
        #[arg(long)]
        auth_mode: Option<String>,
        #[arg(long)]
        category: Option<String>,
    },
    /// Show one provider's entry.
    Show { id: String },
}

#[derive(Subcommand, Debug)]
pub enum IntegrationCommand {
    /// Enable a provider in a project with the project's OAuth client.
    Put {
        #[arg(long)]
        project: String,
        key: String,
        /// A catalog id (`securix catalog list`) or a plugin id.
        #[arg(long)]
        provider: String,
        #[arg(long)]
        client_id: String,
        /// The client secret; prefer the environment variable.
        #[arg(long, env = "SECURIX_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Provider configuration as JSON (endpoints, discoveryUrl, tenant…).
        #[arg(long)]
        config: Option<String>,
    },
    /// List a project's integrations (never a client secret).
    List {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show an integration (never its client secret).
    Show {
        #[arg(long)]
        project: String,
        key: String,
    },
    /// Delete an integration and its client secret.
    Delete {
        #[arg(long)]
        project: String,
        key: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OriginsCommand {
    /// Set the origins allowed to open the popup flow.
    Set {
        #[arg(long)]
        project: String,
        origins: Vec<String>,
    },
    /// Show the origins allowed to open the popup flow.
    Get {
        #[arg(long)]
        project: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Register an endpoint that receives the project's events.
    Add {
        #[arg(long)]
        project: String,
        /// Where deliveries go (https; loopback http when the server allows it).
        #[arg(value_name = "URL")]
        endpoint_url: String,
        /// Only these event types (repeatable; default: all).
        #[arg(long = "event")]
        events: Vec<String>,
    },
    /// Add a signing key to a project; its old ones keep signing alongside until retired.
    RotateKey {
        #[arg(long)]
        project: String,
    },
    /// Stop signing with one of a project's keys (`whk_…`).
    RetireKey {
        #[arg(long)]
        project: String,
        key_id: String,
    },
    /// List a project's endpoints.
    List {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show an endpoint.
    Show {
        #[arg(long)]
        project: String,
        endpoint_id: String,
    },
    /// Delete an endpoint: nothing more is delivered to it.
    Delete {
        #[arg(long)]
        project: String,
        endpoint_id: String,
    },
    /// List delivery attempts, newest first: status, the receiver's answer, latency.
    Deliveries {
        #[arg(long)]
        project: String,
        #[arg(long)]
        endpoint: Option<String>,
        /// pending (to be tried again), delivered or failed (given up).
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        event: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Send a logged delivery's event to its endpoint again.
    Retry {
        #[arg(long)]
        project: String,
        delivery_id: String,
    },
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// `device` (a code to type in any browser).
    #[arg(long, default_value = "device")]
    pub flow: String,
    #[arg(long)]
    pub entity: String,
    /// The integration(s) to connect.
    #[arg(long = "provider", required = true)]
    pub providers: Vec<String>,
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    #[arg(long, env = "SECURIX_AGENT_ID", default_value = "cli")]
    pub agent: String,
    #[arg(long, env = "SECURIX_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

fn print(json_mode: bool, value: &Value, text: impl FnOnce() -> String) {
    if json_mode {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn admin(remote: &Remote, auth: &AdminAuth) -> anyhow::Result<Client> {
    Ok(Client::new(&remote.url)?.admin_token(&auth.admin_token))
}

/// Prints an item as JSON or as its fields, one per line.
fn show(json_mode: bool, item: &Value) {
    print(json_mode, item, || match item.as_object() {
        Some(fields) => fields
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => format!("{name}: {text}"),
                other => format!("{name}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => item.to_string(),
    });
}

/// Lists a page (or all) of `listing` as a table of `columns`.
async fn list(
    remote: &Remote,
    client: &Client,
    listing: Listing<'_>,
    page: &PageArgs,
    columns: &[(&str, &str)],
) -> anyhow::Result<()> {
    let answer = listing.fetch(client, page).await?;
    print(remote.json, &answer, || table(&answer, columns));
    Ok(())
}

fn listing(path: String) -> Listing<'static> {
    Listing { path, filters: Vec::new() }
}

pub async fn project(remote: Remote, auth: AdminAuth, command: ProjectCommand) -> anyhow::Result<()> {
    let client = admin(&remote, &auth)?;
    match command {
        ProjectCommand::Create { name } => {
            let answer =
                client.call(Method::POST, "/v1/admin/projects", Some(&json!({ "name": name }))).await?;
            print(remote.json, &answer, || {
                format!("Created project {}", answer["projectId"].as_str().unwrap_or_default())
            });
        }
        ProjectCommand::List(page) => {
            let columns = [("PROJECT", "projectId"), ("NAME", "name"), ("CREATED", "createdAt")];
            list(&remote, &client, listing("/v1/admin/projects".into()), &page, &columns).await?;
        }
        ProjectCommand::Show { id } => {
            show(
                remote.json,
                &client.call(Method::GET, &format!("/v1/admin/projects/{}", encode(&id)), None).await?,
            );
        }
        ProjectCommand::Delete { id } => {
            client.call(Method::DELETE, &format!("/v1/admin/projects/{}", encode(&id)), None).await?;
            print(remote.json, &json!({ "deleted": id }), || {
                format!("Deleted project {id} and everything of it")
            });
        }
        ProjectCommand::Rename { id, name } => {
            let path = format!("/v1/admin/projects/{}", encode(&id));
            show(remote.json, &client.call(Method::PATCH, &path, Some(&json!({ "name": name }))).await?);
        }
    }
    Ok(())
}

pub async fn api_key(remote: Remote, auth: AdminAuth, command: ApiKeyCommand) -> anyhow::Result<()> {
    let client = admin(&remote, &auth)?;
    match command {
        ApiKeyCommand::Create { project, name } => {
            let answer = client
                .call(
                    Method::POST,
                    &format!("/v1/admin/projects/{project}/api-keys"),
                    Some(&json!({ "name": name })),
                )
                .await?;
            print(remote.json, &answer, || {
                format!(
                    "API key {} (shown once, store it now):\n{}",
                    answer["apiKeyId"].as_str().unwrap_or_default(),
                    answer["apiKey"].as_str().unwrap_or_default()
                )
            });
        }
        ApiKeyCommand::Delete { project, id } => {
            client.call(Method::DELETE, &format!("/v1/admin/projects/{project}/api-keys/{id}"), None).await?;
            print(remote.json, &json!({ "deleted": id }), || format!("Deleted API key {id}"));
        }
        ApiKeyCommand::List { project, page } => {
            let columns = [
                ("API KEY", "apiKeyId"),
                ("NAME", "name"),
                ("PREFIX", "prefix"),
                ("CREATED", "createdAt"),
                ("LAST USED", "lastUsedAt"),
            ];
            let path = format!("/v1/admin/projects/{}/api-keys", encode(&project));
            list(&remote, &client, listing(path), &page, &columns).await?;
        }
        ApiKeyCommand::Show { project, id } => {
            let path = format!("/v1/admin/projects/{}/api-keys/{}", encode(&project), encode(&id));
            show(remote.json, &client.call(Method::GET, &path, None).await?);
        }
    }
    Ok(())
}

pub async fn agent(remote: Remote, auth: AdminAuth, command: AgentCommand) -> anyhow::Result<()> {
    let client = admin(&remote, &auth)?;
    match command {
        AgentCommand::Create { project, agent_id, integrations } => {
            let body = json!({ "agentId": agent_id, "integrations": if integrations.is_empty() { Value::Null } else { json!(integrations) } });
            let answer = client
                .call(Method::POST, &format!("/v1/admin/projects/{project}/agents"), Some(&body))
                .await?;
            print(remote.json, &answer, || format!("Agent {agent_id} ready"));
        }
        AgentCommand::Grant { project, agent_id, grant } => {
            let text = match grant.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
                None => grant,
            };
            let body: Value = serde_json::from_str(&text).context("--grant is not JSON")?;
            let path = format!("/v1/admin/projects/{}/agents/{}", encode(&project), encode(&agent_id));
            let answer = client.call(Method::PUT, &path, Some(&body)).await?;
            print(remote.json, &answer, || format!("Agent {agent_id} granted"));
        }
        AgentCommand::List { project, page } => {
            let columns = [("AGENT", "agentId"), ("INTEGRATIONS", "integrations"), ("CREATED", "createdAt")];
            let path = format!("/v1/admin/projects/{}/agents", encode(&project));
            list(&remote, &client, listing(path), &page, &columns).await?;
        }
        AgentCommand::Show { project, agent_id } => {
            let path = format!("/v1/admin/projects/{}/agents/{}", encode(&project), encode(&agent_id));
            show(remote.json, &client.call(Method::GET, &path, None).await?);
        }
        AgentCommand::Delete { project, agent_id } => {
            let path = format!("/v1/admin/projects/{}/agents/{}", encode(&project), encode(&agent_id));
            client.call(Method::DELETE, &path, None).await?;
            print(remote.json, &json!({ "deleted": agent_id }), || format!("Deleted agent {agent_id}"));
        }
    }
    Ok(())
}

pub async fn catalog(remote: Remote, auth: AdminAuth, command: CatalogCommand) -> anyhow::Result<()> {
    let client = admin(&remote, &auth)?;
    match command {
        CatalogCommand::Show { id } => {
            let answer = client.call(Method::GET, &format!("/v1/catalog/{}", encode(&id)), None).await?;
            print(remote.json, &answer, || serde_json::to_string_pretty(&answer).unwrap_or_default());
        }
        CatalogCommand::List { search, auth_mode, category } => {
            let mut filters: Vec<String> = [("q", search), ("authMode", auth_mode), ("category", category)]
                .into_iter()
                .filter_map(|(name, value)| Some(format!("{name}={}", encode(&value?))))
                .collect();
            filters.push("limit=500".into());
            let mut providers = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let after = cursor.as_deref().map(|c| format!("&cursor={}", encode(c))).unwrap_or_default();
                let page = client
                    .call(Method::GET, &format!("/v1/catalog?{}{after}", filters.join("&")), None)
                    .await?;
                providers.extend(page["providers"].as_array().cloned().unwrap_or_default());
                match page["nextCursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            let answer = Value::Array(providers);
            print(remote.json, &answer, || {
                let rows = answer.as_array().map(Vec::as_slice).unwrap_or_default();
                let text = |p: &Value, field: &str| p[field].as_str().unwrap_or_default().to_owned();
                let mut out = format!("{:<32} {:<28} {:<26} {}\n", "ID", "NAME", "AUTH MODE", "CATEGORIES");
                for p in rows {
                    let categories: Vec<String> = p["categories"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c.as_str().map(str::to_owned))
                        .collect();
                    out.push_str(&format!(
                        "{:<32} {:<28} {:<26} {}\n",
                        text(p, "id"),
                        text(p, "name"),
                        text(p, "authMode"),
                        categories.join(", ")
                    ));
                }
                out.push_str(&format!("{} providers", rows.len()));
                out
            });
        }
    }
    Ok(())
}

/// A query or path value, percent-encoded.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub async fn integration(remote: Remote, auth: AdminAuth, command: IntegrationCommand) -> anyhow::Result<()> {
    let client = admin(&remote, &auth)?;
    let (project, key, provider, client_id, client_secret, scopes, config) = match command {
        IntegrationCommand::Put { project, key, provider, client_id, client_secret, scopes, config } => {
            (project, key, provider, client_id, client_secret, scopes, config)
        }
        IntegrationCommand::List { project, page } => {
            let columns = [
                ("INTEGRATION", "integration"),
                ("PROVIDER", "provider"),
                ("CLIENT ID", "clientId"),
                ("SCOPES", "scopes"),
            ];
            let path = format!("/v1/admin/projects/{}/integrations", encode(&project));
            return list(&remote, &client, listing(path), &page, &columns).await;
        }
        IntegrationCommand::Show { project, key } => {
            let path = format!("/v1/admin/projects/{}/integrations/{}", encode(&project), encode(&key));
            show(remote.json, &client.call(Method::GET, &path, None).await?);
            return Ok(());
        }
        IntegrationCommand::Delete { project, key } => {
            let path = format!("/v1/admin/projects/{}/integrations/{}", encode(&project), encode(&key));
            client.call(Method::DELETE, &path, None).await?;
            print(remote.json, &json!({ "deleted": key }), || format!("Deleted integration {key}"));
            return Ok(());
        }
    };
    let config: Value = match config {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("--config is not JSON: {e}"))?
        }
        None => json!({}),
    };
    let body = json!({ "provider": provider, "clientId": client_id, "clientSecret": client_secret, "scopes": scopes, "config": config });
    let answer = client
        .call(Method::PUT, &format!("/v1/admin/projects/{project}/integrations/{key}"), Some(&body))
        .await?;
    print(remote.json, &answer, || {
        format!("Integration {key} uses provider {}", answer["provider"].as_str().unwrap_or_default())
    });
    Ok(())
}

pub async fn origins(remote: Remote, auth: AdminAuth, command: OriginsCommand) -> anyhow::Result<()> {
    let (project, origins) = match command {
        OriginsCommand::Set { project, origins } => (project, origins),
        OriginsCommand::Get { project } => {
            let path = format!("/v1/admin/projects/{}/origins", encode(&project));
            let answer = admin(&remote, &auth)?.call(Method::GET, &path, None).await?;
            print(remote.json, &answer, || {
                let origins: Vec<&str> =
                    answer["origins"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if origins.is_empty() { "No origins allowed".into() } else { origins.join("\n") }
            });
            return Ok(());
        }
    };
    let answer = admin(&remote, &auth)?
        .call(
            Method::PUT,
            &format!("/v1/admin/projects/{project}/origins"),
            Some(&json!({ "origins": origins })),
        )
        .await?;
    print(remote.json, &answer, || format!("Allowed origins: {}", origins.join(", ")));
    Ok(())
}

pub async fn webhook(remote: Remote, auth: AdminAuth, command: WebhookCommand) -> anyhow::Result<()> {
    let client = admin(&remote, &auth)?;
    match command {
        WebhookCommand::Add { project, endpoint_url, events } => {
            let events = (!events.is_empty()).then_some(events);
            let body = json!({ "url": endpoint_url, "events": events });
            let path = format!("/v1/admin/projects/{project}/webhook-endpoints");
            let answer = client.call(Method::POST, &path, Some(&body)).await?;
            print(remote.json, &answer, || {
                format!("Registered endpoint {}", answer["endpointId"].as_str().unwrap_or_default())
            });
        }
        WebhookCommand::RotateKey { project } => {
            let path = format!("/v1/admin/projects/{project}/webhook-keys/rotate");
            let answer = client.call(Method::POST, &path, None).await?;
            print(remote.json, &answer, || {
                format!(
                    "New signing key {} ({})",
                    answer["id"].as_str().unwrap_or_default(),
                    answer["publicKey"].as_str().unwrap_or_default()
                )
            });
        }
        WebhookCommand::RetireKey { project, key_id } => {
            let path = format!("/v1/admin/projects/{project}/webhook-keys/{key_id}/retire");
            client.call(Method::POST, &path, None).await?;
            print(remote.json, &json!({ "id": key_id, "status": "retired" }), || format!("Retired {key_id}"));
        }
        WebhookCommand::List { project, page } => {
            let columns = [
                ("ENDPOINT", "endpointId"),
                ("URL", "url"),
                ("EVENTS", "events"),
                ("FAILING SINCE", "failingSince"),
            ];
            let path = format!("/v1/admin/projects/{}/webhook-endpoints", encode(&project));
            list(&remote, &client, listing(path), &page, &columns).await?;
        }
        WebhookCommand::Show { project, endpoint_id } => {
            let path =
                format!("/v1/admin/projects/{}/webhook-endpoints/{}", encode(&project), encode(&endpoint_id));
            show(remote.json, &client.call(Method::GET, &path, None).await?);
        }
        WebhookCommand::Deliveries { project, endpoint, status, event, page } => {
            let listing = Listing {
                path: format!("/v1/admin/projects/{}/webhook-deliveries", encode(&project)),
                filters: vec![("endpointId", endpoint), ("status", status), ("eventId", event)],
            };
            let columns = [
                ("DELIVERY", "deliveryId"),
                ("EVENT", "eventId"),
                ("ENDPOINT", "endpointId"),
                ("TRY", "attempt"),
                ("STATUS", "status"),
                ("HTTP", "responseStatus"),
                ("MS", "latencyMs"),
                ("AT", "at"),
                ("ERROR", "error"),
            ];
            list(&remote, &client, listing, &page, &columns).await?;
        }
        WebhookCommand::Retry { project, delivery_id } => {
            let path = format!(
                "/v1/admin/projects/{}/webhook-deliveries/{}/retry",
                encode(&project),
                encode(&delivery_id)
            );
            let answer = client.call(Method::POST, &path, None).await?;
            print(remote.json, &answer, || format!("Delivery {delivery_id} queued again"));
        }
        WebhookCommand::Delete { project, endpoint_id } => {
            let path =
                format!("/v1/admin/projects/{}/webhook-endpoints/{}", encode(&project), encode(&endpoint_id));
            client.call(Method::DELETE, &path, None).await?;
            print(remote.json, &json!({ "deleted": endpoint_id }), || {
                format!("Deleted endpoint {endpoint_id}")
            });
        }
    }
    Ok(())
}

/// `securix connect`: shows the URL and code, waits (long-polling, with a spinner
/// on a terminal) and exits 0 once the connection is ready, like `gh auth login`.
pub async fn connect(remote: Remote, args: ConnectArgs) -> anyhow::Result<()> {
    if args.flow != "device" {
        anyhow::bail!("only --flow device is available from a terminal (the popup flow needs a browser app)");
    }
    let client = Client::new(&remote.url)?.api_key(&args.api_key).agent(&args.agent);
    let names: Vec<&str> = args.providers.iter().map(String::as_str).collect();
    let mut request = NewSession::device(&args.entity, &names);
    for provider in request.providers.values_mut() {
        *provider = ProviderRequest { scopes: args.scopes.clone() };
    }
    let session = client.create_session(&request).await?;
    let code = session.device_auth_code.clone().unwrap_or_default();
    if remote.json {
        println!(
            "{}",
            json!({ "sessionId": session.session_id, "authUrl": session.auth_url, "deviceAuthCode": code, "expiresAt": session.expires_at })
        );
    } else {
        println!("Open:  {}\nCode:  {code}", session.auth_url);
    }
    std::io::stdout().flush()?;
    let spinner = std::io::stderr().is_terminal() && !remote.json;
    let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let started = Instant::now();
    let mut frame = 0;
    let status = loop {
        if spinner {
            eprint!(
                "\r{} Waiting for you to finish in the browser… {}s",
                frames[frame % frames.len()],
                started.elapsed().as_secs()
            );
            frame += 1;
        }
        match client.session(&session.session_id, Some(5)).await {
            Ok(status) if status.is_final() => break status,
            Ok(_) => {}
            Err(error) if error.problem() == Some("slow_down") => {
                tokio::time::sleep(Duration::from_secs(5)).await
            }
            Err(error) => return Err(error.into()),
        }
    };
    if spinner {
        eprintln!();
    }
    if status.status != "completed" {
        anyhow::bail!("the connection was not made: the session is {}", status.status);
    }
    let connections: Vec<String> = status
        .providers
        .iter()
        .map(|(key, p)| format!("{key} ({})", p["connectionId"].as_str().unwrap_or("?")))
        .collect();
    print(remote.json, &json!({ "status": status.status, "providers": status.providers }), || {
        format!("Connected: {}", connections.join(", "))
    });
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// Verify a delivery (body from a file, or standard input with `-`).
    Verify {
        /// A `whpk_…` public key; repeat during a rotation.
        #[arg(long = "public-key", required = true)]
        public_keys: Vec<String>,
        #[arg(long)]
        id: String,
        #[arg(long)]
        timestamp: String,
        #[arg(long)]
        signature: String,
        #[arg(long, default_value = "-")]
        body: String,
        /// Check the timestamp against this time (seconds) instead of now.
        #[arg(long)]
        now: Option<i64>,
    },
    /// Deliver an event again, or every event of a time range.
    Redeliver {
        #[command(flatten)]
        remote: Remote,
        #[arg(long, env = "SECURIX_API_KEY", hide_env_values = true)]
        api_key: String,
        /// The event id (`evt_…`).
        #[arg(long, conflicts_with_all = ["from_ms", "to_ms"])]
        event: Option<String>,
        /// Range start, milliseconds since the epoch.
        #[arg(long)]
        from_ms: Option<i64>,
        /// Range end, milliseconds since the epoch.
        #[arg(long)]
        to_ms: Option<i64>,
    },
}

/// `securix webhooks verify`: exit 0 and "valid", or one line saying why not;
/// `securix webhooks redeliver`: queue events for delivery again.
pub async fn webhooks(command: WebhooksCommand) -> anyhow::Result<()> {
    let (public_keys, id, timestamp, signature, body, now) = match command {
        WebhooksCommand::Verify { public_keys, id, timestamp, signature, body, now } => {
            (public_keys, id, timestamp, signature, body, now)
        }
        WebhooksCommand::Redeliver { remote, api_key, event, from_ms, to_ms } => {
            let client = Client::new(&remote.url)?.api_key(&api_key);
            let body = json!({ "eventId": event, "fromMs": from_ms, "toMs": to_ms });
            let answer = client.call(Method::POST, "/v1/events/redeliver", Some(&body)).await?;
            print(remote.json, &answer, || format!("Queued {} event(s) for delivery", answer["queued"]));
            return Ok(());
        }
    };
    let keys = public_keys
        .iter()
        .map(|k| {
            securix_client::webhooks::parse_public_key(k)
                .ok_or_else(|| anyhow::anyhow!("{k:?} is not a whpk_ public key"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let body = if body == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
        bytes
    } else {
        std::fs::read(&body).map_err(|e| anyhow::anyhow!("cannot read {body}: {e}"))?
    };
    let now = now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    securix_client::webhooks::verify(&keys, &id, &timestamp, &signature, &body, now)?;
    println!("valid");
    Ok(())
}
