//! Per plugin call: instantiate + `authorize-url` + drop of the Google plugin,
//! against the same URL built by native Rust, in the same run (target: under
//! 50 µs at the median); then 1,000 concurrent calls, which must all succeed;
//! then fairness: Google's call latency while 2,000 slow calls (a provider that
//! takes 100 ms) flood through the `oauth2` plugin, against the same without the
//! flood, with each plugin's own bound (as shipped) and without it (all plugins
//! sharing the 1,000 slots, as before #29); then the same against 64 calls that
//! spin on the CPU until their budget stops them.
//!
//! `cargo bench -p securix-engine --bench plugin_call`

use std::time::{Duration, Instant};

use securix_engine::plugins::{
    AuthorizeParams, CallTarget, FetchPolicy, OAuthClient, PluginHost, PluginHostOptions, PluginLimits,
};
use securix_engine::util::secret::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SAMPLES: usize = 5_000;

fn params() -> AuthorizeParams {
    AuthorizeParams {
        scopes: vec!["openid".into(), "https://www.googleapis.com/auth/gmail.readonly".into()],
        state: "st_4d1b0c8e2f7a9c3b5e6d".into(),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        login_hint: None,
    }
}

fn target() -> CallTarget {
    CallTarget {
        config: "{}".into(),
        hosts: vec![],
        client_auth_endpoints: vec![],
        client: OAuthClient {
            client_id: "1234567890-abc.apps.googleusercontent.com".into(),
            client_secret: SecretString::new("GOCSPX-secret"),
            redirect_uri: "https://securix.example/oauth/callback".into(),
        },
        token_fields: vec![],
    }
}

fn encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// The Google authorization URL, built natively: what the plugin computes.
fn native_authorize_url(target: &CallTarget, params: &AuthorizeParams) -> String {
    let scope = params.scopes.join(" ");
    let challenge = params.code_challenge.clone().unwrap_or_default();
    let pairs = [
        ("response_type", "code"),
        ("client_id", target.client.client_id.as_str()),
        ("redirect_uri", target.client.redirect_uri.as_str()),
        ("scope", scope.as_str()),
        ("state", params.state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ];
    let mut url = String::with_capacity(512);
    url.push_str("https://accounts.google.com/o/oauth2/v2/auth?");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            url.push('&');
        }
        encode_into(&mut url, key);
        url.push('=');
        encode_into(&mut url, value);
    }
    url
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p) as usize]
}

/// A provider whose userinfo takes 100 ms to answer.
async fn slow_provider() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while matches!(socket.read(&mut buffer).await, Ok(n) if n > 0) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"sub\":\"u\"}";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(base)
}

type Outcome<T> = Result<T, Box<dyn std::error::Error>>;

/// Google's call latencies (p50, p99, max) while `flood` slow calls run through
/// `oauth2` (none: the quiet baseline), with `per_plugin` calls of one plugin at once.
async fn google_during_flood(
    per_plugin: u32,
    flood: usize,
    base: &str,
) -> Outcome<(Duration, Duration, Duration)> {
    let limits = PluginLimits { max_concurrent_calls_per_plugin: per_plugin, ..PluginLimits::default() };
    let fetch = FetchPolicy { allow_loopback_http: true, ..FetchPolicy::default() };
    let host = PluginHost::new(PluginHostOptions { limits, fetch, ..PluginHostOptions::default() })?;
    let find = |id: &str| securix_plugins::FIRST_PARTY.iter().find(|(name, _)| *name == id).map(|(_, w)| *w);
    let google = host.load(find("google").ok_or("no google")?).await?;
    let generic = host.load(find("oauth2").ok_or("no oauth2")?).await?;
    let mut slow = target();
    slow.config = serde_json::json!({ "userinfoEndpoint": format!("{base}/userinfo") }).to_string();
    slow.hosts = vec![base.to_owned()];
    let token = SecretString::new("at");
    let calls: Vec<_> = (0..flood)
        .map(|_| {
            let (generic, slow, token) = (generic.clone(), slow.clone(), token.clone());
            tokio::spawn(async move { generic.identity(&slow, &token).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (target, params) = (target(), params());
    let mut samples = Vec::new();
    while samples.len() < 200 && (flood == 0 || calls.iter().any(|c| !c.is_finished())) {
        let started = Instant::now();
        google.authorize_url(&target, params.clone()).await?;
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for call in calls {
        call.await??;
    }
    let max = samples.iter().max().copied().unwrap_or_default();
    Ok((median(samples.clone()), percentile(samples, 0.99), max))
}

async fn fairness() -> Outcome<()> {
    let base = slow_provider().await?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (_, quiet_p99, _) = google_during_flood(64, 0, &base).await?;
    println!("fairness: google authorize-url p99 with no flood: {:.2} ms", ms(quiet_p99));
    for (label, per_plugin) in [("own bound of 64 (as shipped)", 64), ("shared slots only (before)", 1000)] {
        let (p50, p99, max) = google_during_flood(per_plugin, 2000, &base).await?;
        println!(
            "fairness, {label}: during a 2,000-call flood through oauth2: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; p99 ratio to no flood {:.1}x",
            ms(p50),
            ms(p99),
            ms(max),
            p99.as_secs_f64() / quiet_p99.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}

/// The test plugins (`tests/plugins/`), built as their author would.
#[allow(clippy::unwrap_used)]
#[path = "../tests/engine/support/test_plugins.rs"]
mod test_plugins;

/// Google's latencies (p50, p99) while 64 calls of a plugin that spins until its
/// 100 ms CPU budget stops it run at once (one plugin's whole bound), or none.
async fn google_during_cpu_flood(flood: usize) -> Outcome<(Duration, Duration)> {
    let limits = PluginLimits { cpu: Duration::from_millis(100), ..PluginLimits::default() };
    let host = PluginHost::new(PluginHostOptions { limits, ..PluginHostOptions::default() })?;
    let find = |id: &str| securix_plugins::FIRST_PARTY.iter().find(|(name, _)| *name == id).map(|(_, w)| *w);
    let google = host.load(find("google").ok_or("no google")?).await?;
    let hostile = host.load(&test_plugins::wasm("hostile")).await?;
    let mut spin = target();
    spin.config = serde_json::json!({ "mode": "loop" }).to_string();
    let calls: Vec<_> = (0..flood)
        .map(|_| {
            let (hostile, spin) = (hostile.clone(), spin.clone());
            tokio::spawn(async move { hostile.authorize_url(&spin, params()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (target, params) = (target(), params());
    let mut samples = Vec::new();
    while samples.len() < 100 && (flood == 0 || calls.iter().any(|c| !c.is_finished())) {
        let started = Instant::now();
        google.authorize_url(&target, params.clone()).await?;
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for call in calls {
        let stopped = call.await?;
        if !matches!(stopped, Err(securix_engine::plugins::PluginError::CpuLimit { .. })) {
            return Err(format!("a spinning call ended otherwise: {stopped:?}").into());
        }
    }
    Ok((median(samples.clone()), percentile(samples, 0.99)))
}

async fn cpu_fairness() -> Outcome<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (_, quiet) = google_during_cpu_flood(0).await?;
    let (p50, p99) = google_during_cpu_flood(64).await?;
    println!(
        "fairness, CPU: google authorize-url during 64 spinning calls of another plugin: p50 {:.2} ms, p99 {:.2} ms (no flood p99 {:.2} ms; ratio {:.1}x)",
        ms(p50),
        ms(p99),
        ms(quiet),
        p99.as_secs_f64() / quiet.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let host = PluginHost::new(PluginHostOptions::default())?;
        let (_, wasm) =
            securix_plugins::FIRST_PARTY.iter().find(|(id, _)| *id == "google").ok_or("no google plugin")?;
        let google = host.load(wasm).await?;
        let (target, params) = (target(), params());

        let from_plugin = google.authorize_url(&target, params.clone()).await?;
        let native = native_authorize_url(&target, &params);
        assert_eq!(from_plugin, native, "both sides compute the same URL");

        for _ in 0..200 {
            google.authorize_url(&target, params.clone()).await?;
        }
        let mut plugin_samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            std::hint::black_box(google.authorize_url(&target, params.clone()).await?);
            plugin_samples.push(started.elapsed());
        }
        let mut native_samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            std::hint::black_box(native_authorize_url(&target, &params));
            native_samples.push(started.elapsed());
        }
        let plugin_p50 = median(plugin_samples.clone());
        let native_p50 = median(native_samples);
        println!(
            "plugin call (instantiate + authorize-url + drop): p50 {:>8.1} µs, p99 {:>8.1} µs",
            plugin_p50.as_secs_f64() * 1e6,
            percentile(plugin_samples, 0.99).as_secs_f64() * 1e6
        );
        println!(
            "native URL build:                                 p50 {:>8.1} µs",
            native_p50.as_secs_f64() * 1e6
        );
        println!(
            "ratio plugin/native: {:.0}x; target: plugin p50 under 50 µs",
            plugin_p50.as_secs_f64() / native_p50.as_secs_f64().max(1e-9)
        );

        let started = Instant::now();
        let calls = (0..1000).map(|_| {
            let (google, target, params) = (google.clone(), target.clone(), params.clone());
            tokio::spawn(async move { google.authorize_url(&target, params).await })
        });
        let mut failures = 0;
        for call in calls.collect::<Vec<_>>() {
            if !matches!(call.await, Ok(Ok(_))) {
                failures += 1;
            }
        }
        println!(
            "1000 concurrent calls: {failures} failed, {:.1} ms in all",
            started.elapsed().as_secs_f64() * 1e3
        );
        fairness().await?;
        cpu_fairness().await
    })
}
