//! A whole device flow with nothing but the engine crate: a project, an OAuth
//! integration (the generic `oauth2` plugin), a device session, the user's steps
//! (enter the code, consent, come back from the provider) and a proxied API call.
//!
//! The provider is a tiny local OAuth server started here, so the example runs
//! anywhere: `cargo run -p securix-engine --example device_flow`.

use std::sync::Arc;

use futures_util::StreamExt;
use securix_engine::flows::sessions::CreateSession;
use securix_engine::model::agent::Access;
use securix_engine::model::integration::IntegrationDraft;
use securix_engine::model::session::Flow;
use securix_engine::plugins::{FetchPolicy, PluginHost, PluginHostOptions};
use securix_engine::proxy::{ProxyBody, ProxyRequest};
use securix_engine::store::Store;
use securix_engine::util::secret::SecretString;
use securix_engine::vault::MasterKey;
use securix_engine::{Engine, EngineSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A provider that approves everything: token, userinfo and one API route.
async fn local_provider() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0u8; 16 * 1024];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let body = match path {
                    "/token" => {
                        r#"{"access_token":"demo-access","refresh_token":"demo-refresh","expires_in":3600,"token_type":"Bearer"}"#
                    }
                    "/userinfo" => r#"{"sub":"demo-user","email":"demo@example.com"}"#,
                    _ if path.starts_with("/api/") => r#"{"hello":"from the provider's API"}"#,
                    _ => r#"{"error":"not_found"}"#,
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    Ok(base)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = local_provider().await?;
    let plugins = PluginHost::new(PluginHostOptions {
        fetch: FetchPolicy { allow_loopback_http: true, ..FetchPolicy::default() },
        ..PluginHostOptions::default()
    })?;
    for (_, wasm) in securix_plugins::FIRST_PARTY {
        plugins.load(wasm).await?;
    }
    let engine = Engine::builder()
        .store(Store::memory())
        .master_key(MasterKey::generate())
        .plugins(Arc::new(plugins))
        .settings(EngineSettings {
            public_url: "http://127.0.0.1:8080".into(),
            allow_loopback_http: true,
            ..EngineSettings::default()
        })
        .build()
        .await?;

    // The operator: a project, an API key, an agent, an integration.
    let project = engine.create_project("Example").await?;
    let (_, api_key) = engine.issue_api_key(&project.id, "backend").await?;
    engine.put_agent(&project.id, "cli", Access::default()).await?;
    let integration = IntegrationDraft {
        key: "demo".into(),
        provider: "oauth2".into(),
        client_id: "demo-client".into(),
        client_secret: SecretString::new("demo-secret"),
        scopes: vec!["profile".into()],
        config: serde_json::json!({
            "authorizationEndpoint": format!("{provider}/authorize"),
            "tokenEndpoint": format!("{provider}/token"),
            "userinfoEndpoint": format!("{provider}/userinfo"),
            "apiBaseUrl": format!("{provider}/api"),
        }),
    };
    engine.put_integration(&project.id, integration).await?;

    // The app: ask for a device session.
    let app = engine.authenticate(api_key.expose()).await?;
    let request = CreateSession {
        params: Default::default(),
        agent_id: "cli".into(),
        entity_id: "user_123".into(),
        flow: Some(Flow::Device),
        providers: [("demo".to_string(), vec![])].into_iter().collect(),
        ..CreateSession::default()
    };
    let session = engine.create_session(&app, request).await?;
    let code = session.device_auth_code.clone().unwrap_or_default();
    println!("Open {} and enter {code}", session.auth_url);

    // The user (what the /device page does): enter the code, consent, come back.
    let browser = "example-browser-0123456789";
    let session_id = engine.enter_device_code(&code, "127.0.0.1", browser).await?;
    let consent_url = engine
        .begin_authorization(&session_id, "demo", browser, &Default::default())
        .await?
        .redirect()
        .ok_or("no redirect")?;
    println!("The browser goes to {}", consent_url.split('?').next().unwrap_or_default());
    let state =
        consent_url.split(['?', '&']).find_map(|p| p.strip_prefix("state=")).unwrap_or_default().to_owned();
    engine.oauth_callback(&state, Some("code-from-the-provider"), None, None, browser).await?;

    // The app: the session is complete; call the provider's API through SecuriX.
    let status = engine.session_status(&app, &session.session_id, None).await?;
    println!("Session {}: {:?}", status.session_id, status.status);
    for connection in engine.list_connections(&app, "user_123").await? {
        println!(
            "Connected {} as {} ({})",
            connection.integration, connection.account.id, connection.connection_id
        );
    }
    let call = ProxyRequest {
        method: hyper::Method::GET,
        path: "hello".into(),
        query: None,
        headers: hyper::header::HeaderMap::new(),
        body: ProxyBody::empty(),
        connection_id: None,
    };
    let response = engine.proxy(&app, "cli", "user_123", "demo", call).await?;
    let mut body = Vec::new();
    let mut stream = response.body;
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk?);
    }
    println!("Proxied call: HTTP {} {}", response.status, String::from_utf8_lossy(&body));
    engine.shutdown().await;
    Ok(())
}
