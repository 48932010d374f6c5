//! The proxy core: an app calls a provider API through SecuriX and never sees the
//! token. The call's plan (`plan`) checks the agent, finds the connection,
//! gets a fresh token and lets the plugin name the base URL and auth headers; this
//! refuses any path that could leave that base, drops the caller's credentials and hop-by-hop
//! headers, and streams the answer back.

pub(crate) mod audit_log;
pub(crate) mod plan;
pub(crate) mod retry;

use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderMap, HeaderName};

use crate::auth::{Principal, grants};
use crate::error::{EngineError, EngineResult};
use crate::http_client::HttpClient;
/// The provider's answer; `proxy` drops the hop-by-hop headers and cookies first.
pub use crate::http_client::{Answer as ProxyResponse, BodyStream, ProxyBody};
use crate::model::audit;
use crate::policy::OutboundPolicy;
use crate::providers::Providers;
use crate::proxy::audit_log::AuditLog;
use crate::proxy::plan::{ProxyPlan, ProxyPlans};
use crate::store::Store;
use crate::tokens::Tokens;
use crate::util::clock::{Clock, Timestamp};
use crate::util::epoch_cache::{CacheStats, EpochCache};

/// Request headers never forwarded upstream. The body's framing is the HTTP
/// client's, from what the body says of its length (`ProxyBody`).
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];
/// Whether a caller's request header goes upstream (header names are lower case).
pub fn is_forwarded(name: &HeaderName) -> bool {
    let name = name.as_str();
    !name.starts_with("securix-") && !DROPPED_REQUEST_HEADERS.contains(&name)
}

/// Response headers never passed back (the body's length travels apart, as
/// `ProxyResponse::length`).
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "set-cookie",
    "proxy-authenticate",
];

/// The headers a message's `Connection` header names: hop-by-hop, for this
/// connection only (RFC 9110 §7.6.1). Seldom any.
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// Removes `DROPPED_RESPONSE_HEADERS` and those the answer's `Connection` names.
/// An answer seldom has any, so its few names are looked at first: a removal
/// hashes its name, a look costs a comparison.
fn drop_response_headers(headers: &mut HeaderMap) {
    let named = connection_named(headers);
    let is_dropped =
        |name: &HeaderName| DROPPED_RESPONSE_HEADERS.contains(&name.as_str()) || named.contains(name);
    let dropped: Vec<_> = headers.keys().filter(|name| is_dropped(name)).cloned().collect();
    for name in dropped {
        headers.remove(name);
    }
}

pub struct ProxyRequest {
    pub method: hyper::Method,
    /// The path after `/v1/proxy/{integration}/`, still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    /// The caller's headers; those that go upstream are picked here (`is_forwarded`).
    pub headers: HeaderMap,
    pub body: ProxyBody,
    /// `securix-connection-id`: which of several accounts.
    pub connection_id: Option<String>,
}

/// A path that stays under the API base: no `.`/`..` segments (raw, encoded or with
/// parameters), no empty segments, no encoded slashes or backslashes, no scheme, no
/// control bytes.
/// The methods a request's override headers name, in capitals: none for most.
fn method_overrides(headers: &HeaderMap) -> EngineResult<Vec<String>> {
    let named = grants::METHOD_OVERRIDES.iter().flat_map(|name| headers.get_all(*name));
    named
        .map(|value| {
            value
                .to_str()
                .map(|v| v.trim().to_ascii_uppercase())
                .map_err(|_| EngineError::Invalid("a method override header is not text".into()))
        })
        .collect()
}

pub fn check_path(path: &str) -> EngineResult<()> {
    let bad = |why: &str| Err(EngineError::Invalid(format!("proxy path {why}")));
    if path.len() > 4096 {
        return bad("is too long");
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b'\\' || b == b'#' || b == b' ') {
        return bad("has forbidden characters");
    }
    let forbidden_escape = |escape: &[u8]| {
        escape[0] == b'%'
            && matches!(
                (escape[1], escape[2].to_ascii_lowercase()),
                (b'2', b'f' | b'5') | (b'5', b'c') | (b'0', b'0' | b'd' | b'a')
            )
    };
    // Byte windows rather than `str::contains`, whose searcher costs more to set up
    // than a short path costs to scan.
    let has = |needle: &[u8]| path.as_bytes().windows(needle.len()).any(|bytes| bytes == needle);
    if path.as_bytes().windows(3).any(forbidden_escape) {
        return bad("has encoded slashes or control characters");
    }
    if path.starts_with('/') || has(b"://") {
        return bad("must be relative to the API base");
    }
    if path.split('/').any(is_dot_segment) {
        return bad("may not contain . or .. segments");
    }
    if has(b"//") {
        return bad("may not contain empty segments");
    }
    Ok(())
}

/// `.` or `..`, with any dot written `%2e` (any case), and with or without path
/// parameters (`..;x`, `..%3bx`): servlet containers strip those and then step up.
fn is_dot_segment(segment: &str) -> bool {
    let segment = segment.as_bytes();
    let parameters = (0..segment.len()).find(|&at| {
        segment[at] == b';'
            || segment[at..].get(..3).is_some_and(|escape| escape.eq_ignore_ascii_case(b"%3b"))
    });
    let mut rest = &segment[..parameters.unwrap_or(segment.len())];
    let mut dots = 0;
    while let Some(after) = rest.strip_prefix(b".").or_else(|| {
        let (escape, after) = rest.split_at_checked(3)?;
        escape.eq_ignore_ascii_case(b"%2e").then_some(after)
    }) {
        rest = after;
        dots += 1;
    }
    rest.is_empty() && (dots == 1 || dots == 2)
}

/// The proxy's room: it asks `Tokens` for fresh tokens and the plugins for the
/// API base and auth headers, and sends through the one outbound client.
pub(crate) struct Proxy {
    store: Store,
    clock: Arc<dyn Clock>,
    providers: Providers,
    tokens: Arc<Tokens>,
    http: HttpClient,
    /// Checks the API base a plugin names.
    outbound: OutboundPolicy,
    /// How long a call may wait for the answer's head, then for each piece of its body.
    upstream_timeout: Duration,
    audit: AuditLog,
    /// Remembered plans, each good while its access epoch holds.
    plans: ProxyPlans,
}

impl Proxy {
    /// The proxy, and its audit writer's task (which ends when the proxy is dropped).
    pub fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        providers: Providers,
        tokens: Arc<Tokens>,
        http: HttpClient,
        outbound: OutboundPolicy,
        upstream_timeout: Duration,
    ) -> (Arc<Proxy>, tokio::task::JoinHandle<()>) {
        let (audit, writer) = AuditLog::start(store.clone());
        let plans = EpochCache::new(plan::REMEMBERED_PLANS);
        let proxy = Proxy { store, clock, providers, tokens, http, outbound, upstream_timeout, audit, plans };
        (Arc::new(proxy), writer)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// How often a remembered plan answered.
    pub fn cache_stats(&self) -> CacheStats {
        self.plans.stats()
    }

    pub async fn proxy(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        integration_key: &str,
        request: ProxyRequest,
    ) -> EngineResult<ProxyResponse> {
        check_path(&request.path)?;
        if let Some(query) = &request.query
            && (query.len() > 8192 || query.bytes().any(|b| b.is_ascii_control() || b == b'#' || b == b' '))
        {
            return Err(EngineError::Invalid("proxy query has forbidden characters".into()));
        }
        let method = request.method;
        let overrides = method_overrides(&request.headers)?;
        let call = grants::Call { method: method.as_str(), overrides: &overrides, path: &request.path };
        let connection_id = request.connection_id.as_deref();
        let plan =
            self.proxy_plan(principal, agent_id, entity_id, integration_key, connection_id, &call).await?;
        // A remembered plan: the grant is checked again for this call's method and path.
        grants::check_call(&plan.agent, integration_key, &call, self.now())?;
        let target = plan.base.target(&request.path, request.query.as_deref())?;
        let named = connection_named(&request.headers);
        let headers = || {
            let mut headers = HeaderMap::with_capacity(request.headers.len() + plan.headers.len());
            for (name, value) in
                request.headers.iter().filter(|(name, _)| is_forwarded(name) && !named.contains(name))
            {
                headers.append(name, value.clone());
            }
            for (name, value) in &plan.headers {
                headers.append(name, value.clone());
            }
            headers
        };
        let timeout = self.upstream_timeout;
        let (mut body, mut retries) = (request.body, 0);
        let sent = loop {
            let replay = retry::replayable(&method, &body);
            let sent = self.http.send(method.clone(), target.clone(), headers(), body, timeout).await;
            let (Some(replay), Ok(answer)) = (replay, &sent) else { break sent };
            let Some(wait) = plan.retry.wait(answer.status, &answer.headers, retries, self.now()) else {
                break sent;
            };
            drop(sent);
            tokio::time::sleep(wait).await;
            (body, retries) = (ProxyBody::Bytes(replay), retries + 1);
        };
        let status = sent.as_ref().map_or(0, |answer| answer.status);
        self.audit_token_use(&plan, &method, retries, status).await;
        let mut answer = sent.map_err(EngineError::outbound)?;
        drop_response_headers(&mut answer.headers);
        Ok(answer)
    }

    /// Records a token use, once its answer (or failure) is in, with the number of
    /// retries it took and the answer's status. The audit log commits it in a batch,
    /// off the request's path; this waits only when the log's queue is full.
    async fn audit_token_use(&self, plan: &ProxyPlan, method: &hyper::Method, retries: u32, status: u16) {
        let entry = crate::proxy::audit_log::Entry {
            at: self.now(),
            method: method.clone(),
            retries,
            status,
            caller: plan.caller.clone(),
        };
        self.audit.append(entry).await;
    }

    /// The entity's connections the agent's grant lets it call through.
    pub async fn usable_connections(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
    ) -> EngineResult<Vec<crate::flows::views::ConnectionView>> {
        let tx = self.store.begin().await?;
        let agent = crate::auth::require_agent(&tx, &principal.project_id, agent_id).await?;
        drop(tx);
        crate::auth::grants::check_live(&agent, self.now())?;
        let connections = self.tokens.list_connections(principal, entity_id).await?;
        Ok(connections.into_iter().filter(|c| agent.grant(&c.integration).is_some()).collect())
    }

    /// Waits until every token use recorded so far is committed to the audit trail.
    pub async fn flush_audit_log(&self) {
        self.audit.flush().await;
    }

    /// An entity's audit trail, newest first.
    pub async fn audit_trail(
        &self,
        principal: &Principal,
        entity_id: &str,
        limit: usize,
    ) -> EngineResult<Vec<audit::AuditRecord>> {
        let tx = self.store.begin().await?;
        Ok(audit::list(&tx, &principal.project_id, entity_id, limit.clamp(1, 1000)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::{HeaderMap, HeaderName, check_path, drop_response_headers, is_forwarded};

    #[test]
    fn cookies_and_hop_headers_of_the_answer_stay_behind() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("content-type", "application/json"),
            ("Set-Cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("connection", "close, X-Hop"),
            ("x-hop", "only for this connection"),
            ("x-ratelimit-remaining", "9"),
            ("transfer-encoding", "chunked"),
        ] {
            headers.append(name, value.parse().unwrap());
        }
        drop_response_headers(&mut headers);
        let mut kept: Vec<_> = headers.keys().map(|name| name.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["content-type", "x-ratelimit-remaining"]);
    }

    #[test]
    fn callers_credentials_and_hop_headers_stay_behind_in_any_case() {
        for dropped in [
            "Authorization",
            "cookie",
            "HOST",
            "Transfer-Encoding",
            "Content-Length",
            "Connection",
            "securix-api-key",
            "SecuriX-Agent-Id",
        ] {
            assert!(!is_forwarded(&HeaderName::from_bytes(dropped.as_bytes()).unwrap()), "{dropped}");
        }
        for kept in ["x-custom", "accept", "content-type", "securi", "x-securix-trace"] {
            assert!(is_forwarded(&HeaderName::from_bytes(kept.as_bytes()).unwrap()), "{kept}");
        }
    }

    #[test]
    fn paths_stay_under_the_base() {
        for good in [
            "gmail/v1/users/me/messages",
            "user",
            "a/b%20c/d",
            "files/list_folder",
            "a/.../b",
            "a/.b/c",
            "v1.2/x",
            "%2e%2e%2e/x",
            "x%2",
            "a;b/c",
            "v1;x/..x",
            "x%3b",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        for bad in [
            "../admin",
            "a/../../b",
            "a/%2e%2e/b",
            "a//b",
            "/etc/passwd",
            "a%2Fb",
            "http://evil.example/",
            "a\r\nb",
            "a\\b",
            "%2E%2E/x",
            "a/%252e%252e",
            "a/%2E./b",
            "a/.%2e",
            "a/%2e",
            ".",
            "x%5Cy",
            "x%0D%0Ay",
            "x%00",
            "a/..;/b",
            "a/.;x/b",
            "a/%2e%2e%3Bjsessionid=1/b",
            "..;",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
