//! Server settings: command-line flags, each also read from its `SECURIX_*`
//! environment variable (API.md, "Running the server"), with embedded defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use securix_engine::secret::SecretString;
use securix_engine::vault::MasterKey;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SECURIX_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the embedded store and generated keys live.
    #[arg(long, env = "SECURIX_DATA_DIR", default_value = "securix-data")]
    pub data_dir: PathBuf,
    /// Extra provider plugins (`*.wasm`), loaded after the bundled first-party ones.
    #[arg(long, env = "SECURIX_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// The URL users and providers reach (builds `authUrl` and the redirect URI).
    #[arg(long, env = "SECURIX_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Webhook retry waits in seconds, comma-separated (default: 0,5,300,1800,7200,18000,36000,36000).
    #[arg(long, env = "SECURIX_WEBHOOK_SCHEDULE", value_delimiter = ',')]
    pub webhook_schedule: Option<Vec<u64>>,
    /// `1` lets plugins and webhooks use plain http to loopback addresses (development and tests only).
    #[arg(long, env = "SECURIX_ALLOW_LOOPBACK_HTTP", value_parser = parse_flag, default_value = "0")]
    pub allow_loopback_http: bool,
}

fn parse_flag(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("expected 1 or 0, got {other:?}")),
    }
}

/// Everything `serve` needs, resolved and validated.
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub master_key: MasterKey,
    pub plugins_dir: Option<PathBuf>,
    pub allow_loopback_http: bool,
    pub public_url: String,
    pub admin_token: Option<SecretString>,
    pub webhook_schedule: Option<Vec<std::time::Duration>>,
}

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
        let master_key = match std::env::var("SECURIX_MASTER_KEY") {
            Ok(text) => MasterKey::from_base64(&text).context("SECURIX_MASTER_KEY")?,
            Err(_) => {
                let path = args.data_dir.join("master.key");
                let (key, created) = MasterKey::load_or_create(&path)?;
                if created {
                    tracing::warn!(
                        path = %path.display(),
                        "generated a vault master key for development; production should set SECURIX_MASTER_KEY"
                    );
                }
                key
            }
        };
        let public_url = args
            .public_url
            .unwrap_or_else(|| format!("http://{}", args.listen))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            anyhow::bail!("SECURIX_PUBLIC_URL must be an http(s) URL");
        }
        let admin_token =
            std::env::var("SECURIX_ADMIN_TOKEN").ok().filter(|t| !t.is_empty()).map(SecretString::new);
        let webhook_schedule =
            args.webhook_schedule.map(|secs| secs.into_iter().map(std::time::Duration::from_secs).collect());
        Ok(ServeConfig {
            webhook_schedule,
            public_url,
            admin_token,
            listen: args.listen,
            data_dir: args.data_dir,
            master_key,
            plugins_dir: args.plugins_dir,
            allow_loopback_http: args.allow_loopback_http,
        })
    }
}
