//! Per plugin call: instantiate + `authorize-url` + drop of the Google plugin,
//! against the same URL built by native Rust, in the same run (target: under
//! 50 µs at the median); then 1,000 concurrent calls, which must all succeed.
//!
//! `cargo bench -p securix-engine --bench plugin_call`

use std::time::{Duration, Instant};

use securix_engine::plugins::{AuthorizeParams, CallTarget, OAuthClient, PluginHost, PluginHostOptions};
use securix_engine::util::secret::SecretString;

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
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
