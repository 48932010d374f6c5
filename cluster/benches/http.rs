//! The server over HTTP, against baselines measured in the same run:
//! - latency SecuriX's proxy adds (p50, p99): a keep-alive connection per target, 1 KB
//!   request and answer bodies, through `/v1/proxy/…` versus straight to the upstream
//!   (the targets take turns call by call, so a spike of the host touches all), and
//!   what nginx adds on the same hop. Measured against an upstream beside SecuriX
//!   and nginx (CPU 1), so that a direct call crosses between the CPUs as often as a
//!   proxied one (twice), as a provider is a network hop away from a client and a
//!   proxy alike; then against the upstream beside the load generator (CPU 0), where
//!   a proxied call crosses four times and a direct one never, and waking an idle
//!   virtual CPU (~100 µs here) is most of what is "added";
//! - throughput at 64 connections through SecuriX (token injection) versus nginx
//!   reverse-proxying the same upstream (Debian's package), and versus two bare
//!   relays (`support/relay.rs`: what relaying alone costs, served by hyper, as
//!   SecuriX is, and by actix-web, SecuriX's app framework), in rounds of all four
//!   back to back; the ratios are the rounds' medians, each with its 95 %
//!   confidence interval (the host's speed drifts from second to second);
//! - device-session creations per second;
//! - with `SECURIX_BASELINE_BIN` set to another build of `securix`, that build too,
//!   in the same rounds: this build's throughput over it (an A/B of a change, with
//!   the host's drift shared by both sides).
//!
//! The load generator and the throughput's upstream run on CPU 0, SecuriX and nginx
//! on CPU 1 (`taskset`). Run with `scripts/bench-http` (it builds the release binary and
//! installs nginx), or `SECURIX_BIN=… cargo bench -p securix-cluster --bench http`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

mod support;

use support::median::{median, median_interval};
use support::{
    Error, LATENCY_SAMPLES, Process, Target, free_port, has, latency, load_seconds, on_cpu1, provision,
    start_build, start_securix, throughput,
};

const CONNECTIONS: usize = 64;
/// Throughput rounds: each measures SecuriX, nginx and the relays back to back, for
/// a second each, so a ratio compares figures of the same few seconds on a host
/// whose speed drifts (a slow spell of several seconds touches all four, not one).
const ROUNDS: usize = 25;
/// Seconds per target and round (`SECURIX_BENCH_SECONDS` overrides).
const ROUND_SECONDS: u64 = 1;
/// Seconds of device-session creations.
const SESSION_SECONDS: u64 = 5;

fn main() -> Result<(), Error> {
    if std::env::var_os("SECURIX_BENCH_PINNED").is_none() && has("taskset") {
        // Re-run pinned to CPU 0, so SecuriX and nginx get CPU 1 to themselves.
        let status = Command::new("taskset")
            .args(["-c", "0"])
            .arg(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env("SECURIX_BENCH_PINNED", "1")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(bench())
}

async fn bench() -> Result<(), Error> {
    let upstream = support::upstream().await?;
    let dir = tempfile::tempdir()?;
    let (securix_url, _securix) = start_securix(dir.path(), &[], true).await?;
    let api_key = provision(&securix_url, &upstream).await?;
    let near = support::upstream_on_cpu1()?;
    let near_key = provision(&securix_url, &near).await?;
    let nginx = start_nginx(dir.path(), [&upstream, &near])?;

    let body = Bytes::from(vec![b'x'; 1024]);
    let up = upstream.trim_start_matches("http://").to_owned();
    let sx = securix_url.trim_start_matches("http://").to_owned();
    // The upstream's echo, straight or through a baseline proxy at `address`.
    let echo_at = |address: String| Target { address, path: "/api/echo".into(), headers: vec![] };
    let proxy_at = |address: &str, api_key: &str| Target {
        address: address.trim_start_matches("http://").to_owned(),
        path: "/v1/proxy/up/echo".into(),
        headers: vec![
            ("securix-api-key", api_key.to_owned()),
            ("securix-agent-id", "agent".into()),
            ("securix-entity-id", "e1".into()),
        ],
    };
    let proxied = proxy_at(&securix_url, &api_key);
    let other_build = match std::env::var("SECURIX_BASELINE_BIN") {
        Ok(bin) => {
            let (url, process) = start_build(&bin, &dir.path().join("baseline"), &[], true).await?;
            Some((proxy_at(&url, &provision(&url, &upstream).await?), process))
        }
        Err(_) => None,
    };

    println!(
        "== latency: a keep-alive connection to each target, 1 KB bodies, {LATENCY_SAMPLES} requests each, the targets taking turns call by call"
    );
    println!(
        "upstream beside SecuriX and nginx (CPU 1): direct and proxied calls cross between the CPUs alike"
    );
    let nginx_at =
        |upstream: usize| nginx.as_ref().map(|(addresses, _)| echo_at(addresses[upstream].clone()));
    let near_direct = echo_at(near.trim_start_matches("http://").to_owned());
    let near_proxied = proxy_at(&securix_url, &near_key);
    latencies(&near_direct, &near_proxied, nginx_at(1), &body, "(targets: ≤ 150 µs, ≤ 1000 µs)").await?;
    println!("upstream beside the load generator (CPU 0): only proxied calls cross, four times");
    latencies(&echo_at(up.clone()), &proxied, nginx_at(0), &body, "").await?;

    let seconds = load_seconds(ROUND_SECONDS);
    println!(
        "== throughput: {CONNECTIONS} connections, 1 KB bodies, {ROUNDS} rounds of {seconds} s each (SecuriX, nginx, the relays in turn)",
    );
    let baselines = match &nginx {
        Some((nginx_address, _)) => {
            let relays = [support::relay::start_hyper(&up)?, support::relay::start_actix(&up)?];
            Some((echo_at(nginx_address[0].clone()), relays.map(echo_at)))
        }
        None => {
            println!("nginx is not installed: no baseline (scripts/bench-http installs it)");
            None
        }
    };
    let (mut through_securix, mut ratios, mut hyper_ratios, mut actix_ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut build_ratios = Vec::new();
    for round in 1..=ROUNDS {
        let securix = throughput(seconds, std::slice::from_ref(&proxied), &body, CONNECTIONS).await?;
        through_securix.push(securix);
        if let Some((other, _)) = &other_build {
            let other = throughput(seconds, std::slice::from_ref(other), &body, CONNECTIONS).await?;
            println!("round {round}: this build {securix:>7.0} req/s, baseline build {other:>7.0}");
            build_ratios.push(securix / other);
        }
        let Some((via_nginx, [hyper_relay, actix_relay])) = &baselines else {
            println!("round {round}: SecuriX (token injection) {securix:>7.0} req/s");
            continue;
        };
        let baseline = throughput(seconds, std::slice::from_ref(via_nginx), &body, CONNECTIONS).await?;
        let hyper = throughput(seconds, std::slice::from_ref(hyper_relay), &body, CONNECTIONS).await?;
        let actix = throughput(seconds, std::slice::from_ref(actix_relay), &body, CONNECTIONS).await?;
        println!(
            "round {round}: SecuriX (token injection) {securix:>7.0} req/s, nginx {baseline:>7.0}, \
             relays: hyper {hyper:>7.0}, actix {actix:>7.0}: SecuriX/nginx {:.2}×, hyper/nginx {:.2}×, \
             actix/nginx {:.2}×",
            securix / baseline,
            hyper / baseline,
            actix / baseline
        );
        ratios.push(securix / baseline);
        hyper_ratios.push(hyper / baseline);
        actix_ratios.push(actix / baseline);
    }
    println!("SecuriX (token injection): {:>9.0} req/s (median)", median(through_securix));
    println!("ratios: the median of the rounds [its 95 % confidence interval]");
    if !build_ratios.is_empty() {
        println!("this build / baseline:     {}", ratio(build_ratios));
    }
    if !ratios.is_empty() {
        println!("SecuriX / nginx:           {}   target: ≥ 0.75×", ratio(ratios));
        println!(
            "hyper relay / nginx:       {}   relaying alone, served as SecuriX is: no identity, token or audit",
            ratio(hyper_ratios)
        );
        println!("actix relay / nginx:       {}   the same, served by actix-web", ratio(actix_ratios));
    }

    let sessions = Target {
        address: sx,
        path: "/v1/sessions".into(),
        headers: vec![
            ("securix-api-key", api_key),
            ("securix-agent-id", "agent".into()),
            ("content-type", "application/json".into()),
        ],
    };
    let create = Bytes::from_static(br#"{"entityId":"e2","flow":"device","providers":{"up":{}}}"#);
    let per_second =
        throughput(load_seconds(SESSION_SECONDS), std::slice::from_ref(&sessions), &create, 16).await?;
    println!("== device-session creations: {per_second:.0}/s (16 connections, durable commits)");
    Ok(())
}

/// A ratio's median over the rounds and the interval it lies in with 95 % confidence.
fn ratio(rounds: Vec<f64>) -> String {
    let (low, median, high) = median_interval(rounds);
    format!("{median:>5.2}× [{low:.2}–{high:.2}]")
}

/// Latency straight to an upstream (`direct`), through SecuriX and through nginx to
/// it, and what each proxy adds; `targets` follows SecuriX's figures.
async fn latencies(
    direct: &Target,
    securix: &Target,
    nginx: Option<Target>,
    body: &Bytes,
    targets: &str,
) -> Result<(), Error> {
    let in_turn: Vec<&Target> = [Some(direct), Some(securix), nginx.as_ref()].into_iter().flatten().collect();
    let measured = latency(&in_turn, body).await?;
    let ((d50, d99), (p50, p99)) = (measured[0], measured[1]);
    println!("  direct to upstream:   p50 {d50:>7.1} µs   p99 {d99:>7.1} µs");
    println!("  through SecuriX:      p50 {p50:>7.1} µs   p99 {p99:>7.1} µs");
    println!("  added by SecuriX:     p50 {:>7.1} µs   p99 {:>7.1} µs   {targets}", p50 - d50, p99 - d99);
    if let Some(&(n50, n99)) = measured.get(2) {
        println!("  through nginx:        p50 {n50:>7.1} µs   p99 {n99:>7.1} µs");
        println!(
            "  added by nginx:       p50 {:>7.1} µs   p99 {:>7.1} µs   (the same hop)",
            n50 - d50,
            n99 - d99
        );
    }
    Ok(())
}

/// nginx on CPU 1 proxying to each of `upstreams` (on a port of its own) with
/// keep-alive, adding a static Authorization header (its "token injection"). None
/// when nginx is not installed.
fn start_nginx<const N: usize>(
    dir: &std::path::Path,
    upstreams: [&str; N],
) -> Result<Option<([String; N], Process)>, Error> {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else { return Ok(None) };
    let mut ports = [0u16; N];
    for port in &mut ports {
        *port = free_port()?;
    }
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs"))?;
    let servers: String = upstreams
        .iter()
        .zip(ports)
        .enumerate()
        .map(|(n, (upstream, port))| {
            format!(
                "  upstream up{n} {{ server {up}; keepalive 128; keepalive_requests 1000000; }}
  server {{
    listen 127.0.0.1:{port};
    keepalive_requests 1000000;
    location / {{
      proxy_pass http://up{n}; proxy_http_version 1.1; proxy_set_header Connection \"\";
      proxy_set_header Authorization \"Bearer bench-at\";
    }}
  }}
",
                up = upstream.trim_start_matches("http://"),
            )
        })
        .collect();
    let config = format!(
        "worker_processes 1; pid {p}/nginx.pid; error_log {p}/logs/error.log warn; daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {p}/body; proxy_temp_path {p}/proxy;
{servers}}}",
        p = prefix.display(),
    );
    let file = prefix.join("nginx.conf");
    std::fs::write(&file, config)?;
    let child = on_cpu1(bin)
        .args(["-p", &prefix.display().to_string(), "-c", &file.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let addresses = ports.map(|port| format!("127.0.0.1:{port}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while addresses.iter().any(|address| std::net::TcpStream::connect(address).is_err()) {
        if Instant::now() > deadline {
            return Err("nginx did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Some((addresses, Process(child))))
}
