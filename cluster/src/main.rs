//! `securix`: the SecuriX server and command-line tool.

mod admin_token;
mod api;
mod cli;
mod client_address;
mod config;
mod console;
mod demo;
mod front;
mod membership;
mod mesh;
mod open_files;
mod pages;
mod server;
mod telemetry;

use clap::{Parser, Subcommand};

/// The proxy's hot path allocates per request; mimalloc is several times cheaper
/// than glibc's malloc there (see `benches/http.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "securix",
    version,
    about = "SecuriX: the auth broker and token vault for apps and AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded store, no configuration needed).
    Serve(Box<config::ServeArgs>),
    /// Try SecuriX in a browser: the server, a local demo OAuth provider and a demo app.
    Demo(demo::DemoArgs),
    /// Projects (admin).
    Project {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::ProjectCommand,
    },
    /// API keys of a project (admin).
    ApiKey {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::ApiKeyCommand,
    },
    /// Agents of a project (admin).
    Agent {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::AgentCommand,
    },
    /// The provider catalog: every provider SecuriX knows (admin).
    Catalog {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::CatalogCommand,
    },
    /// Integrations: providers enabled in a project (admin).
    Integration {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::IntegrationCommand,
    },
    /// Origins allowed to open the popup flow (admin).
    Origins {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::OriginsCommand,
    },
    /// Webhook endpoints and signing keys (admin).
    Webhook {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::WebhookCommand,
    },
    /// A project's connections (admin; never a token).
    Connection {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::ConnectionCommand,
    },
    /// A project's entities (admin).
    Entity {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::EntityCommand,
    },
    /// A project's token uses (admin).
    Audit {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::AuditCommand,
    },
    /// A project's sessions (admin).
    Session {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        auth: cli::AdminAuth,
        #[command(subcommand)]
        command: cli::SessionCommand,
    },
    /// A project's event log: follow it from the terminal.
    Events {
        #[command(subcommand)]
        command: cli::EventsCommand,
    },
    /// Webhook tools: verify a delivery, redeliver events.
    Webhooks {
        #[command(subcommand)]
        command: cli::WebhooksCommand,
    },
    /// Connect an entity to a provider from the terminal (device flow).
    Connect {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(flatten)]
        args: cli::ConnectArgs,
    },
}

fn main() {
    let telemetry = telemetry::init();
    let outcome = match Cli::parse().command {
        Command::Serve(args) => config::ServeConfig::resolve(*args).and_then(server::run),
        Command::Demo(args) => demo::run(args),
        other => remote(other),
    };
    // Flushes the traces still batched before the process ends.
    drop(telemetry);
    if let Err(error) = outcome {
        eprintln!("securix: {error:#}");
        std::process::exit(1);
    }
}

/// The commands that talk to a running server.
fn remote(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        match command {
            Command::Serve(_) | Command::Demo(_) => Ok(()),
            Command::Webhooks { command } => cli::webhooks(command).await,
            Command::Events { command } => cli::events(command).await,
            Command::Project { remote, auth, command } => cli::project(remote, auth, command).await,
            Command::ApiKey { remote, auth, command } => cli::api_key(remote, auth, command).await,
            Command::Agent { remote, auth, command } => cli::agent(remote, auth, command).await,
            Command::Catalog { remote, auth, command } => cli::catalog(remote, auth, command).await,
            Command::Integration { remote, auth, command } => cli::integration(remote, auth, command).await,
            Command::Connection { remote, auth, command } => cli::connection(remote, auth, command).await,
            Command::Entity { remote, auth, command } => cli::entity(remote, auth, command).await,
            Command::Session { remote, auth, command } => cli::session(remote, auth, command).await,
            Command::Audit { remote, auth, command } => cli::audit(remote, auth, command).await,
            Command::Origins { remote, auth, command } => cli::origins(remote, auth, command).await,
            Command::Webhook { remote, auth, command } => cli::webhook(remote, auth, command).await,
            Command::Connect { remote, args } => cli::connect(remote, args).await,
        }
    })
}
