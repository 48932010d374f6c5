//! Server settings: command-line flags, each also read from its `SECURIX_*`
//! environment variable (API.md, "Running the server"), with embedded defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use securix_engine::util::secret::SecretString;
use securix_engine::vault::MasterKey;

use crate::client_address::TrustedProxies;
use crate::membership::NodeSettings;
use crate::mesh::{MeshSettings, TlsFiles};

/// `serve`'s flags. Each also reads its `SECURIX_*` variable; a flag or variable wins
/// over the `--config` file, which wins over the defaults.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "SECURIX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SECURIX_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where the embedded store and generated keys live [default: securix-data].
    #[arg(long, env = "SECURIX_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
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
    #[arg(long, env = "SECURIX_ALLOW_LOOPBACK_HTTP", value_parser = parse_flag)]
    pub allow_loopback_http: Option<bool>,
    /// `redb` (the embedded default), `postgres://…`, or `fdb:` / `fdb:/path/to/fdb.cluster`.
    #[arg(long, env = "SECURIX_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// This node's stable name in a cluster (on a shared store) [default: node-<port>].
    #[arg(long, env = "SECURIX_NODE_ID")]
    pub node_id: Option<String>,
    /// How long a node's lease lasts without renewal, in milliseconds [default: 5000].
    #[arg(long, env = "SECURIX_NODE_LEASE_MS")]
    pub node_lease_ms: Option<u64>,
    /// `host:port` peers reach this node's mesh on (needs a shared store and the cookie).
    #[arg(long, env = "SECURIX_CLUSTER_LISTEN")]
    pub cluster_listen: Option<String>,
    /// `host:port` of peers to join the mesh through, comma-separated (nodes also
    /// find each other through the store).
    #[arg(long, env = "SECURIX_CLUSTER_SEEDS", value_delimiter = ',')]
    pub cluster_seeds: Option<Vec<String>>,
    /// Mutual TLS on the mesh: this node's certificate chain (PEM)…
    #[arg(long, env = "SECURIX_CLUSTER_TLS_CERT")]
    pub cluster_tls_cert: Option<PathBuf>,
    /// …its private key (PEM)…
    #[arg(long, env = "SECURIX_CLUSTER_TLS_KEY")]
    pub cluster_tls_key: Option<PathBuf>,
    /// …and the CA every node's certificate must come from (PEM).
    #[arg(long, env = "SECURIX_CLUSTER_TLS_CA")]
    pub cluster_tls_ca: Option<PathBuf>,
    /// CIDRs of load balancers whose `Forwarded` / `X-Forwarded-For` give the client's
    /// address, comma-separated [default: none: the socket's peer is the client].
    #[arg(long, env = "SECURIX_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// The header the trusted proxies write: `x-forwarded-for` (default) or `forwarded`.
    #[arg(long, env = "SECURIX_FORWARDED_HEADER")]
    pub forwarded_header: Option<String>,
    /// When set, the only hosts any outbound call may reach (provider APIs, token
    /// endpoints, webhooks), comma-separated [default: any public host].
    #[arg(long, env = "SECURIX_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Option<Vec<String>>,
    /// First-party plugins a file in the plugins directory may replace (by id,
    /// comma-separated); any other plugin id taken twice is refused.
    #[arg(long, env = "SECURIX_PLUGIN_OVERRIDES", value_delimiter = ',')]
    pub plugin_overrides: Option<Vec<String>>,
}

/// The `--config` file: the same settings, plus the two secrets for operators who
/// keep them in a protected file rather than the environment.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
    public_url: Option<String>,
    webhook_schedule: Option<Vec<u64>>,
    allow_loopback_http: Option<bool>,
    master_key: Option<String>,
    admin_token: Option<String>,
    store: Option<String>,
    node_id: Option<String>,
    node_lease_ms: Option<u64>,
    cluster_listen: Option<String>,
    cluster_seeds: Option<Vec<String>>,
    cluster_cookie: Option<String>,
    cluster_tls_cert: Option<PathBuf>,
    cluster_tls_key: Option<PathBuf>,
    cluster_tls_ca: Option<PathBuf>,
    trusted_proxies: Option<String>,
    forwarded_header: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    plugin_overrides: Option<Vec<String>>,
}

impl FileConfig {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("the config file {} is invalid", path.display()))
    }
}

fn parse_flag(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("expected 1 or 0, got {other:?}")),
    }
}

/// Everything `serve` needs, resolved and validated.
/// Where the state lives.
pub enum StoreChoice {
    /// The embedded store, one file in the data directory.
    Redb,
    /// A PostgreSQL URL (it may carry a password: never logged).
    Postgres(SecretString),
    /// FoundationDB, with this cluster file or the default one.
    Fdb(Option<String>),
}

impl StoreChoice {
    fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        if text.is_empty() || text == "redb" {
            Ok(StoreChoice::Redb)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(StoreChoice::Postgres(SecretString::new(text.to_owned())))
        } else if let Some(path) = text.strip_prefix("fdb:") {
            let path = absolute(Some(PathBuf::from(path)).filter(|p| !p.as_os_str().is_empty()))?;
            Ok(StoreChoice::Fdb(path.map(|p| p.display().to_string())))
        } else {
            anyhow::bail!("SECURIX_STORE must be redb, postgres://… or fdb:[cluster file]")
        }
    }
}

pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub master_key: MasterKey,
    pub plugins_dir: Option<PathBuf>,
    /// `SECURIX_PLUGIN_OVERRIDES`.
    pub plugin_overrides: Vec<String>,
    pub allow_loopback_http: bool,
    pub public_url: String,
    pub admin_token: Option<SecretString>,
    pub webhook_schedule: Option<Vec<std::time::Duration>>,
    pub store: StoreChoice,
    /// Set when the store is shared: this node then takes part in a cluster.
    pub node: Option<NodeSettings>,
    /// Set when a cluster node also listens for peers (`SECURIX_CLUSTER_LISTEN`).
    pub mesh: Option<MeshSettings>,
    pub trusted_proxies: TrustedProxies,
    /// `SECURIX_ALLOWED_HOSTS`, lower case.
    pub allowed_hosts: Option<std::collections::HashSet<String>>,
}

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("securix-data"));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        // Every path is made absolute once, here: libraries below (wasmtime's cache) refuse
        // relative ones, and a later change of directory cannot move them.
        let data_dir = std::fs::canonicalize(&data_dir)
            .with_context(|| format!("cannot resolve the data directory {}", data_dir.display()))?;
        let master_key = match env_secret("SECURIX_MASTER_KEY").or(file.master_key) {
            Some(text) => MasterKey::from_base64(&text).context("SECURIX_MASTER_KEY")?,
            None => {
                let path = data_dir.join("master.key");
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
        let listen = args.listen.or(file.listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = args
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            anyhow::bail!("SECURIX_PUBLIC_URL must be an http(s) URL");
        }
        let admin_token = env_secret("SECURIX_ADMIN_TOKEN").or(file.admin_token).map(SecretString::new);
        let webhook_schedule = args
            .webhook_schedule
            .or(file.webhook_schedule)
            .map(|secs| secs.into_iter().map(std::time::Duration::from_secs).collect());
        let store = StoreChoice::parse(args.store.or(file.store).as_deref().unwrap_or("redb"))?;
        let mut node = match store {
            StoreChoice::Redb => None,
            _ => Some(NodeSettings {
                node_id: args.node_id.or(file.node_id).unwrap_or_else(|| format!("node-{}", listen.port())),
                address: public_url.clone(),
                mesh: None,
                lease: std::time::Duration::from_millis(
                    args.node_lease_ms.or(file.node_lease_ms).unwrap_or(5000).max(200),
                ),
            }),
        };
        let mesh = MeshChoice {
            listen: args.cluster_listen.or(file.cluster_listen).filter(|l| !l.trim().is_empty()),
            seeds: args.cluster_seeds.or(file.cluster_seeds).unwrap_or_default(),
            cookie: env_secret("SECURIX_CLUSTER_COOKIE").or(file.cluster_cookie),
            tls: [
                absolute(args.cluster_tls_cert.or(file.cluster_tls_cert))?,
                absolute(args.cluster_tls_key.or(file.cluster_tls_key))?,
                absolute(args.cluster_tls_ca.or(file.cluster_tls_ca))?,
            ],
        }
        .resolve(node.as_ref())?;
        if let (Some(node), Some(mesh)) = (&mut node, &mesh) {
            node.mesh = Some(mesh.listen.clone());
        }
        let trusted_proxies =
            TrustedProxies::parse(args.trusted_proxies.or(file.trusted_proxies).as_deref().unwrap_or(""))?
                .header(args.forwarded_header.or(file.forwarded_header).as_deref().unwrap_or(""))?;
        let allowed_hosts = args.allowed_hosts.or(file.allowed_hosts).map(|hosts| {
            hosts.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect()
        });
        Ok(ServeConfig {
            allowed_hosts,
            trusted_proxies,
            node,
            mesh,
            store,
            webhook_schedule,
            public_url,
            admin_token,
            listen,
            data_dir,
            master_key,
            plugins_dir: absolute(args.plugins_dir.or(file.plugins_dir))?,
            plugin_overrides: args.plugin_overrides.or(file.plugin_overrides).unwrap_or_default(),
            allow_loopback_http: args.allow_loopback_http.or(file.allow_loopback_http).unwrap_or(false),
        })
    }
}

/// `path` made absolute against the working directory (it need not exist yet).
fn absolute(path: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    path.map(|p| std::path::absolute(&p).with_context(|| format!("cannot resolve the path {}", p.display())))
        .transpose()
}

/// A secret from the environment; empty counts as unset.
fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// API.md's `SECURIX_CLUSTER_*` settings, before they are checked.
struct MeshChoice {
    listen: Option<String>,
    seeds: Vec<String>,
    cookie: Option<String>,
    /// Certificate, key and CA.
    tls: [Option<PathBuf>; 3],
}

impl MeshChoice {
    /// The mesh runs on cluster nodes that say where peers reach them; it needs the
    /// cookie. Settings that cannot take effect are named in the log, the cookie never.
    fn resolve(self, node: Option<&NodeSettings>) -> anyhow::Result<Option<MeshSettings>> {
        let seeds: Vec<String> =
            self.seeds.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        let (Some(node), Some(listen)) = (node, self.listen) else {
            let why = match node {
                None => "this node's store is not shared, so it runs alone",
                Some(_) => "without SECURIX_CLUSTER_LISTEN this node joins no mesh; work runs where it lands",
            };
            if !seeds.is_empty() || self.cookie.is_some() {
                tracing::warn!("SECURIX_CLUSTER_SEEDS or SECURIX_CLUSTER_COOKIE is set but unused: {why}");
            }
            return Ok(None);
        };
        let cookie = self.cookie.context("SECURIX_CLUSTER_COOKIE is required with SECURIX_CLUSTER_LISTEN")?;
        if cookie.len() < 16 {
            anyhow::bail!("SECURIX_CLUSTER_COOKIE must be at least 16 characters");
        }
        let tls = match self.tls {
            [Some(cert), Some(key), Some(ca)] => Some(TlsFiles { cert, key, ca }),
            [None, None, None] => None,
            _ => anyhow::bail!(
                "mesh TLS needs all of SECURIX_CLUSTER_TLS_CERT, SECURIX_CLUSTER_TLS_KEY and SECURIX_CLUSTER_TLS_CA"
            ),
        };
        Ok(Some(MeshSettings {
            node_id: node.node_id.clone(),
            listen: listen.trim().to_owned(),
            seeds,
            cookie: SecretString::new(cookie),
            tls,
        }))
    }
}
