//! Server settings: command-line flags, each also read from its `SECURIX_*`
//! environment variable (API.md, "Running the server"), with embedded defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use securix_engine::vault::MasterKey;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SECURIX_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the embedded store and generated keys live.
    #[arg(long, env = "SECURIX_DATA_DIR", default_value = "securix-data")]
    pub data_dir: PathBuf,
}

/// Everything `serve` needs, resolved and validated.
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub master_key: MasterKey,
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
        Ok(ServeConfig { listen: args.listen, data_dir: args.data_dir, master_key })
    }
}
