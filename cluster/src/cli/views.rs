//! The operator's views across a project from the terminal: its connections,
//! entities, sessions and token uses, filtered as the admin API filters them.

use clap::Subcommand;

use super::listing::{Listing, PageArgs};
use super::{AdminAuth, Remote, admin, encode, list};

#[derive(Subcommand, Debug)]
pub enum ConnectionCommand {
    /// List a project's connections (never a token).
    List {
        #[arg(long)]
        project: String,
        #[arg(long)]
        integration: Option<String>,
        /// active, reauth_required or revoked.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        entity: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum EntityCommand {
    /// List a project's entities with how many connections each holds.
    List {
        #[arg(long)]
        project: String,
        /// Only entities whose id starts with this.
        #[arg(long)]
        prefix: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionCommand {
    /// List a project's sessions, newest first, and why those that failed did.
    List {
        #[arg(long)]
        project: String,
        /// pending, authorizing, awaiting_confirmation, completed, denied, expired or failed.
        #[arg(long)]
        status: Option<String>,
        /// popup or device.
        #[arg(long)]
        flow: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// List a project's token uses, newest first.
    List {
        #[arg(long)]
        project: String,
        #[arg(long)]
        entity: Option<String>,
        #[arg(long)]
        integration: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

fn project_path(project: &str, what: &str) -> String {
    format!("/v1/admin/projects/{}/{what}", encode(project))
}

pub async fn connection(remote: Remote, auth: AdminAuth, command: ConnectionCommand) -> anyhow::Result<()> {
    let ConnectionCommand::List { project, integration, status, entity, page } = command;
    let listing = Listing {
        path: project_path(&project, "connections"),
        filters: vec![("integration", integration), ("status", status), ("entityId", entity)],
    };
    let columns = [
        ("CONNECTION", "connectionId"),
        ("ENTITY", "entityId"),
        ("INTEGRATION", "integration"),
        ("ACCOUNT", "account.id"),
        ("STATUS", "status"),
        ("REFRESHED", "refreshedAt"),
    ];
    list(&remote, &admin(&remote, &auth)?, listing, &page, &columns).await
}

pub async fn entity(remote: Remote, auth: AdminAuth, command: EntityCommand) -> anyhow::Result<()> {
    let EntityCommand::List { project, prefix, page } = command;
    let listing = Listing { path: project_path(&project, "entities"), filters: vec![("q", prefix)] };
    let columns = [
        ("ENTITY", "entityId"),
        ("CONNECTIONS", "connections"),
        ("CREATED", "createdAt"),
        ("LAST ACTIVITY", "lastActivityAt"),
    ];
    list(&remote, &admin(&remote, &auth)?, listing, &page, &columns).await
}

pub async fn session(remote: Remote, auth: AdminAuth, command: SessionCommand) -> anyhow::Result<()> {
    let SessionCommand::List { project, status, flow, page } = command;
    let listing = Listing {
        path: project_path(&project, "sessions"),
        filters: vec![("status", status), ("flow", flow)],
    };
    let columns = [
        ("SESSION", "sessionId"),
        ("ENTITY", "entityId"),
        ("FLOW", "flow"),
        ("STATUS", "status"),
        ("CREATED", "createdAt"),
        ("ERROR", "error"),
    ];
    list(&remote, &admin(&remote, &auth)?, listing, &page, &columns).await
}

pub async fn audit(remote: Remote, auth: AdminAuth, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List { project, entity, integration, agent, page } = command;
    let listing = Listing {
        path: project_path(&project, "audit"),
        filters: vec![("entityId", entity), ("integration", integration), ("agentId", agent)],
    };
    let columns = [
        ("AT", "at"),
        ("ENTITY", "entityId"),
        ("AGENT", "agentId"),
        ("INTEGRATION", "integration"),
        ("METHOD", "method"),
        ("HOST", "host"),
        ("CONNECTION", "connectionId"),
    ];
    list(&remote, &admin(&remote, &auth)?, listing, &page, &columns).await
}
