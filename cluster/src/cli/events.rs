//! `securix events tail`: follows a project's event log from the terminal, the
//! pull side of webhooks (`GET /v1/events?after=`), one line per event.

use std::time::Duration;

use clap::Subcommand;
use reqwest::Method;
use securix_client::Client;
use securix_engine::util::clock::Timestamp;
use serde_json::Value;

use super::{Remote, encode};

/// Events read per request while following.
const BATCH: usize = 100;
/// How often the log is read again once it is caught up.
const POLL: Duration = Duration::from_secs(1);

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Print new events as they happen (Ctrl-C ends it).
    Tail {
        #[command(flatten)]
        remote: Remote,
        #[arg(long, env = "SECURIX_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Start from the first event instead of what happens from now on.
        #[arg(long)]
        from_start: bool,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
    },
}

fn line(event: &Value) -> String {
    let field = |name: &str| event[name].as_str().map(|v| format!(" {name}={v}")).unwrap_or_default();
    format!(
        "{} {}{}{}{}",
        event["createdAt"].as_i64().map(|ms| Timestamp(ms).rfc3339()).unwrap_or_default(),
        event["type"].as_str().unwrap_or("?"),
        field("entityId"),
        field("connectionId"),
        field("status"),
    )
}

/// The events after `after`, oldest first.
async fn after(client: &Client, after: Option<&str>) -> anyhow::Result<Vec<Value>> {
    let from = after.map(|id| format!("&after={}", encode(id))).unwrap_or_default();
    let answer = client.call(Method::GET, &format!("/v1/events?limit={BATCH}{from}"), None).await?;
    Ok(answer.as_array().cloned().unwrap_or_default())
}

pub async fn events(command: EventsCommand) -> anyhow::Result<()> {
    let EventsCommand::Tail { remote, api_key, from_start, count } = command;
    let client = Client::new(&remote.url)?.api_key(&api_key);
    let mut last: Option<String> = None;
    if !from_start {
        // Skip what already happened: read to the end of the log.
        loop {
            let seen = after(&client, last.as_deref()).await?;
            match seen.last() {
                Some(event) => last = event["id"].as_str().map(str::to_owned),
                None => break,
            }
        }
    }
    let mut printed = 0;
    loop {
        let events = after(&client, last.as_deref()).await?;
        for event in &events {
            if remote.json {
                println!("{event}")
            } else {
                println!("{}", line(event))
            }
            printed += 1;
            if count.is_some_and(|count| printed >= count) {
                return Ok(());
            }
        }
        match events.last() {
            Some(event) => last = event["id"].as_str().map(str::to_owned),
            None => tokio::time::sleep(POLL).await,
        }
    }
}
