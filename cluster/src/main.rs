//! `securix`: the SecuriX server and command-line tool.

mod admin_token;
mod api;
mod config;
mod pages;
mod server;

use clap::{Parser, Subcommand};

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
    Serve(config::ServeArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SECURIX_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => config::ServeConfig::resolve(args).and_then(server::run),
    };
    if let Err(error) = outcome {
        eprintln!("securix: {error:#}");
        std::process::exit(1);
    }
}
