//! Starting the server: the engine over the embedded store, the plugins, the admin
//! token, and the actix app with its limits and error mapping.

use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};
use anyhow::Context;
use securix_engine::plugins::{FetchPolicy, PluginHost, PluginHostOptions, PluginSource};
use securix_engine::store::{PostgresBackend, RedbOptions, Store};
use securix_engine::{Engine, EngineSettings};
use utoipa_actix_web::AppExt;

use crate::api::{self, ops::Metrics, problem::ApiError};
use crate::client_address::TrustedProxies;
use crate::config::{ServeConfig, StoreChoice};
use crate::membership::Membership;
use crate::mesh::Mesh;

/// Connections each node keeps to PostgreSQL.
const POSTGRES_CONNECTIONS: usize = 32;

/// The most a JSON body may weigh.
const MAX_JSON_BODY: usize = 64 << 10;

/// What every handler shares.
pub struct AppState {
    pub engine: Engine,
    pub admin_token_hash: [u8; 32],
    pub metrics: Metrics,
    /// Set when this node is part of a cluster.
    pub membership: Option<Arc<Membership>>,
    /// Set when it also meets its peers over the mesh.
    pub mesh: Option<Arc<Mesh>>,
    /// Whose forwarding headers name the client (`SECURIX_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
}

pub fn run(config: ServeConfig) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(serve(config))
}

pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let plugins = Arc::new(load_plugins(&config).await?);
    let mut settings = EngineSettings {
        public_url: config.public_url.clone(),
        allow_loopback_http: config.allow_loopback_http,
        allowed_hosts: config.allowed_hosts.clone(),
        ..EngineSettings::default()
    };
    if let Some(schedule) = config.webhook_schedule.clone().filter(|s| !s.is_empty()) {
        settings.webhook_schedule = schedule;
    }
    let mut builder = Engine::builder().store(store.clone()).master_key(config.master_key.clone());
    let membership = match &config.node {
        Some(node) => {
            let membership = Membership::new(node.clone(), store);
            // One round before serving: the lease is on record and shards are known.
            membership.tick().await.context("cannot join the cluster")?;
            membership.start();
            builder = builder.placement(membership.placement());
            println!("SecuriX node {} joined the cluster", node.node_id);
            Some(membership)
        }
        None => None,
    };
    let mesh = match (&config.mesh, &membership) {
        (Some(mesh_settings), Some(membership)) => {
            let mesh = Mesh::start(mesh_settings.clone(), membership.clone()).await?;
            builder = builder.forwarder(mesh.forwarder(membership.placement()));
            println!("SecuriX mesh listening on {}", mesh_settings.listen);
            Some(mesh)
        }
        _ => None,
    };
    let engine = builder.plugins(plugins).settings(settings).build().await?;
    if let Some(mesh) = &mesh {
        mesh.serve(engine.clone()).await?;
    }
    let admin_token_hash = crate::admin_token::establish(&engine, config.admin_token.as_ref()).await?;
    let state = web::Data::new(AppState {
        engine: engine.clone(),
        admin_token_hash,
        metrics: Metrics::default(),
        membership,
        mesh,
        trusted_proxies: config.trusted_proxies.clone(),
    });
    crate::open_files::raise_limit();
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "SecuriX is listening");
    println!("SecuriX listening on http://{address} (public URL {})", config.public_url);
    crate::front::serve(listener, state).await.context("the HTTP server failed")?;
    engine.shutdown().await;
    Ok(())
}

/// The app, but for its state (`AppState`, which the front adds): every route, the
/// OpenAPI document built by the same calls that register them, body limits and
/// error mapping.
pub(crate) fn app() -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let path = web::PathConfig::default()
        .error_handler(|error, _| ApiError::bad_request(format!("bad path: {error}")).into());
    let query = web::QueryConfig::default()
        .error_handler(|error, _| ApiError::bad_request(format!("bad query: {error}")).into());
    let form = web::FormConfig::default()
        .limit(16 << 10)
        .error_handler(|error, _| ApiError::bad_request(format!("bad form: {error}")).into());
    // The proxy first, matched by its static prefix: the hottest route meets no
    // other route's pattern on its way (it is documented in `api::openapi`).
    let proxy = web::scope(api::proxy::SCOPE).default_service(web::to(api::proxy::forward));
    let (app, document) = App::new()
        .service(proxy)
        .into_utoipa_app()
        .openapi(api::openapi::base())
        .configure(api::configure)
        .split_for_parts();
    app.configure(crate::console::configure)
        .wrap(from_fn(crate::front::observe::observe))
        .app_data(api::openapi::Served::new(document))
        .app_data(json_config())
        .app_data(path)
        .app_data(query)
        .app_data(form)
        .default_service(web::to(|| async { ApiError::not_found("no such route").error_response_owned() }))
}

/// JSON bodies: their size limit, and their errors as problem documents.
pub(crate) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(MAX_JSON_BODY).error_handler(|error, _| match error {
        actix_web::error::JsonPayloadError::Overflow { .. }
        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::too_large(format!("JSON bodies are limited to {MAX_JSON_BODY} bytes")).into()
        }
        actix_web::error::JsonPayloadError::ContentType => {
            ApiError::bad_request("send JSON with content-type: application/json").into()
        }
        actix_web::error::JsonPayloadError::Payload(stalled)
            if crate::front::body_stall::is_stalled(&stalled) =>
        {
            ApiError::request_timeout(stalled.to_string()).into()
        }
        other => ApiError::bad_request(format!("malformed JSON: {other}")).into(),
    })
}

trait OwnedResponse {
    fn error_response_owned(self) -> HttpResponse;
}

impl OwnedResponse for ApiError {
    fn error_response_owned(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// The store `SECURIX_STORE` names.
async fn open_store(config: &ServeConfig) -> anyhow::Result<Store> {
    match &config.store {
        StoreChoice::Redb => {
            let path = config.data_dir.join("securix.redb");
            Store::open_redb(&path, RedbOptions::default())
                .with_context(|| format!("cannot open the store at {}", path.display()))
        }
        StoreChoice::Postgres(url) => {
            let backend = PostgresBackend::connect(url.expose(), POSTGRES_CONNECTIONS)
                .await
                .context("cannot open the PostgreSQL store")?;
            Ok(Store::new(backend))
        }
        #[cfg(feature = "fdb")]
        StoreChoice::Fdb(cluster_file) => {
            let backend = securix_engine::store::FdbBackend::open(cluster_file.as_deref())
                .context("cannot open the FoundationDB store")?;
            Ok(Store::new(backend))
        }
        #[cfg(not(feature = "fdb"))]
        StoreChoice::Fdb(cluster_file) => anyhow::bail!(
            "this build has no FoundationDB support (cargo feature fdb), so it cannot open {}",
            cluster_file.as_deref().unwrap_or("the default cluster file")
        ),
    }
}

/// The bundled first-party plugins, then the operator's plugins directory.
async fn load_plugins(config: &ServeConfig) -> anyhow::Result<PluginHost> {
    let options = PluginHostOptions {
        fetch: FetchPolicy {
            allow_loopback_http: config.allow_loopback_http,
            operator_hosts: config.allowed_hosts.clone(),
            ..FetchPolicy::default()
        },
        cache_dir: Some(config.data_dir.join("plugin-cache")),
        replaceable: config.plugin_overrides.clone(),
        ..PluginHostOptions::default()
    };
    let host = PluginHost::new(options)?;
    for (id, wasm) in securix_plugins::FIRST_PARTY {
        host.load_from(wasm, PluginSource::FirstParty)
            .await
            .with_context(|| format!("bundled plugin {id}"))?;
    }
    for id in &config.plugin_overrides {
        if !securix_plugins::FIRST_PARTY.iter().any(|(first_party, _)| first_party == id) {
            println!("SecuriX: SECURIX_PLUGIN_OVERRIDES names {id:?}, which is no first-party plugin");
        }
    }
    if let Some(dir) = &config.plugins_dir {
        // A file that does not load is left out, logged and reported (`/readyz`,
        // `GET /v1/providers`); the others run.
        host.load_dir(dir).await?;
    }
    let ids: Vec<String> = host.list().into_iter().map(|p| format!("{}@{}", p.id, p.wit)).collect();
    println!("SecuriX loaded {} provider plugins: {}", ids.len(), ids.join(", "));
    for failed in host.failed() {
        println!("SecuriX left out the plugin file {}: {}", failed.file, failed.reason);
    }
    Ok(host)
}
