//! `securix demo`: SecuriX with a throwaway store, plus a local OAuth provider and a
//! demo app wired to it, so a newcomer can try the popup and the device flow in a
//! browser without registering anything anywhere.

mod app;
mod html;
mod provider;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use securix_client::Client;
use securix_engine::flows::oauth::pkce;
use securix_engine::util::secret::SecretString;
use securix_engine::vault::MasterKey;
use serde_json::json;

use crate::config::ServeConfig;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Address SecuriX listens on.
    #[arg(long, env = "SECURIX_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let data_dir = std::env::temp_dir().join(format!("securix-demo-{}", std::process::id()));
    let outcome = actix_web::rt::System::new().block_on(demo(args, data_dir.clone()));
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome
}

async fn demo(args: DemoArgs, data_dir: std::path::PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data_dir).context("cannot create the demo's data directory")?;
    let provider = provider::start().await?;
    let admin_token = pkce::random_token();
    let public_url = format!("http://{}", args.listen);
    let config = ServeConfig {
        listen: args.listen,
        data_dir,
        master_key: MasterKey::generate(),
        plugin_overrides: Vec::new(),
        plugins_dir: None,
        // The demo provider and app live on loopback http.
        allow_loopback_http: true,
        public_url: public_url.clone(),
        admin_token: Some(SecretString::new(admin_token.expose().to_owned())),
        webhook_schedule: None,
        store: crate::config::StoreChoice::Redb,
        node: None,
        mesh: None,
        trusted_proxies: Default::default(),
        allowed_hosts: None,
    };
    let server = actix_web::rt::spawn(crate::server::serve(config));
    wait_ready(&format!("{public_url}/readyz")).await?;

    let (listener, app_origin) = app::bind()?;
    let api_key = provision(&public_url, admin_token.expose(), &provider, &app_origin).await?;
    let securix = Client::new(&public_url)?.api_key(api_key.expose()).agent("demo");
    app::start(listener, app_origin.clone(), securix, public_url.clone())?;
    wait_ready(&format!("{app_origin}/")).await?;
    println!();
    println!("  SecuriX demo is running. Open {app_origin} in a browser");
    println!("  to try the popup and the device flow against a local demo provider.");
    println!("  (Everything is in memory and a temporary directory; Ctrl-C ends it.)");
    println!();
    server.await.context("the server task failed")?
}

/// Waits until `url` answers 200.
async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    while Instant::now() < deadline {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{url} did not become ready")
}

/// What an operator would do with the CLI: a project, an API key, an agent, the
/// demo provider as an integration, and the app's origin.
async fn provision(
    base: &str,
    admin_token: &str,
    provider: &provider::DemoProvider,
    app_origin: &str,
) -> anyhow::Result<SecretString> {
    let admin = Client::new(base)?.admin_token(admin_token);
    let project = admin.call(Method::POST, "/v1/admin/projects", Some(&json!({"name": "Demo App"}))).await?;
    let project_id = project["projectId"].as_str().context("no projectId")?;
    let key = admin
        .call(
            Method::POST,
            &format!("/v1/admin/projects/{project_id}/api-keys"),
            Some(&json!({"name": "demo"})),
        )
        .await?;
    let api_key = SecretString::new(key["apiKey"].as_str().context("no apiKey")?.to_owned());
    admin
        .call(
            Method::POST,
            &format!("/v1/admin/projects/{project_id}/agents"),
            Some(&json!({"agentId": "demo"})),
        )
        .await?;
    let integration = json!({
        "provider": "oauth2",
        "clientId": provider::CLIENT_ID,
        "clientSecret": provider.client_secret,
        "scopes": ["openid", "profile", "email"],
        "config": {
            "discoveryUrl": format!("{}/.well-known/openid-configuration", provider.issuer),
            "apiBaseUrl": provider.issuer,
        },
    });
    let path = format!("/v1/admin/projects/{project_id}/integrations/{}", app::INTEGRATION);
    admin.call(Method::PUT, &path, Some(&integration)).await?;
    let origins = json!({ "origins": [app_origin] });
    admin.call(Method::PUT, &format!("/v1/admin/projects/{project_id}/origins"), Some(&origins)).await?;
    Ok(api_key)
}
