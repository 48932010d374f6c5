//! What a proxy call needs besides the request itself: which connection, whether
//! its token is fresh, and the plugin's answer (the API base and the auth
//! headers). Working that out reads the agent, the integration and the
//! connections, asks the entity's actor for a fresh token and calls the plugin in
//! its sandbox — most of a proxy call's cost. So a plan is remembered per caller
//! and account, and reused while the access epochs (`model::access_epoch`) read
//! as they did and the token is not due for a refresh: two reads of one snapshot,
//! or none while the store has committed nothing since they were read.

use std::sync::Arc;

use hashbrown::Equivalent;
use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};

use crate::auth::{Principal, grants, require_agent};
use crate::catalog::AuthMode;
use crate::credentials::{Credentials, inject};
use crate::error::{EngineError, EngineResult};
use crate::model::access_epoch::{self, AccessEpoch};
use crate::model::agent::Agent;
use crate::model::connection;
use crate::model::integration;
use crate::plugins::PluginError;
use crate::proxy::Proxy;
use crate::proxy::audit_log::Caller;
use crate::proxy::retry::RetryRule;
use crate::store::Tx;
use crate::tokens::needs_refresh;
use crate::util::clock::Timestamp;
use crate::util::epoch_cache::EpochCache;

/// How many plans a node remembers.
pub(crate) const REMEMBERED_PLANS: usize = 100_000;

pub(crate) struct ProxyPlan {
    /// Who the plan serves, as each call's audit record names them.
    pub caller: Arc<Caller>,
    /// The calling agent, whose grant each call is checked against.
    pub agent: Agent,
    /// The API base the plugin named; a proxied path goes under it.
    pub base: ApiBase,
    /// The plugin's auth headers, marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// When the provider's answer asks for the call again.
    pub retry: RetryRule,
    refreshed_at: Timestamp,
    expires_at: Option<Timestamp>,
}

/// Who calls which integration for whom, through which account. Remembered with
/// owned strings, looked up with the call's own (`PlanKey<&str>`): a hit allocates
/// nothing. Both forms hash alike, as a `String` hashes as its `str`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PlanKey<S = String> {
    project_id: S,
    agent_id: S,
    entity_id: S,
    integration: S,
    connection_id: Option<S>,
}

impl PlanKey<&str> {
    fn to_owned(&self) -> PlanKey {
        PlanKey {
            project_id: self.project_id.to_owned(),
            agent_id: self.agent_id.to_owned(),
            entity_id: self.entity_id.to_owned(),
            integration: self.integration.to_owned(),
            connection_id: self.connection_id.map(str::to_owned),
        }
    }
}

impl Equivalent<PlanKey> for PlanKey<&str> {
    fn equivalent(&self, key: &PlanKey) -> bool {
        self.project_id == key.project_id
            && self.agent_id == key.agent_id
            && self.entity_id == key.entity_id
            && self.integration == key.integration
            && self.connection_id == key.connection_id.as_deref()
    }
}

pub(crate) type ProxyPlans = EpochCache<PlanKey, AccessEpoch, Arc<ProxyPlan>>;

impl Proxy {
    /// The plan of a call, which the agent's grant must allow before any token is
    /// touched.
    pub(crate) async fn proxy_plan(
        &self,
        principal: &Principal,
        agent_id: &str,
        entity_id: &str,
        integration_key: &str,
        connection_id: Option<&str>,
        call: &grants::Call<'_>,
    ) -> EngineResult<Arc<ProxyPlan>> {
        let key = PlanKey {
            project_id: &*principal.project_id,
            agent_id,
            entity_id,
            integration: integration_key,
            connection_id,
        };
        let plans = &self.plans;
        let fresh = |plan: &Arc<ProxyPlan>| !needs_refresh(plan.refreshed_at, plan.expires_at, self.now());
        if let Some(plan) = plans.unchanged(&key, self.store.version(), fresh) {
            return Ok(plan);
        }
        let tx = self.store.begin().await?;
        let version = tx.version();
        let epoch = access_epoch::read(&tx, &principal.project_id, entity_id).await?;
        if let Some(plan) = plans.revalidate(&key, epoch, version, fresh) {
            return Ok(plan);
        }
        let plan = Arc::new(self.make_plan(tx, &key, call).await?);
        plans.insert(key.to_owned(), epoch, version, plan.clone());
        Ok(plan)
    }

    /// The plan worked out from scratch; `tx` is the snapshot the epochs were read in,
    /// let go before the entity's actor is asked for a token (which takes its own:
    /// holding both could drain a connection pool).
    async fn make_plan(
        &self,
        tx: Tx,
        key: &PlanKey<&str>,
        call: &grants::Call<'_>,
    ) -> EngineResult<ProxyPlan> {
        let project_id = key.project_id;
        let agent = require_agent(&tx, project_id, key.agent_id).await?;
        grants::check_call(&agent, key.integration, call, self.now())?;
        let found = integration::get(&tx, project_id, key.integration)
            .await?
            .ok_or(EngineError::NotFound("integration"))?;
        let connection_id = match key.connection_id {
            Some(id) => id.to_owned(),
            None => {
                let connections = connection::list(&tx, project_id, key.entity_id).await?;
                let default = connection::default_of(&tx, &connections, key.integration).await?;
                default.ok_or(EngineError::NotFound("connection"))?.id.clone()
            }
        };
        let (connection, access_token) =
            self.tokens.access_token(project_id, key.entity_id, &connection_id).await?;
        if connection.integration != key.integration {
            return Err(EngineError::NotFound("connection"));
        }
        let bad_output = |what: &str| {
            EngineError::Provider(PluginError::BadOutput {
                plugin: found.provider.clone(),
                what: what.to_owned(),
            })
        };
        let sensitive = |(name, value): (&str, &str)| {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let mut value = HeaderValue::from_str(value).ok()?;
            value.set_sensitive(true);
            Some((name, value))
        };
        let (base_url, headers, query) = match self.providers.credential_spec(&found) {
            // Credentials the user brought: placed by the host as the entry says.
            Some(spec) => {
                let spec = spec?;
                let auth = match spec.mode {
                    // A key-signed assertion's token goes as a Bearer token.
                    AuthMode::Jwt => inject::bearer(&access_token),
                    _ => Credentials::unsealed(&access_token)
                        .ok_or(inject::Unplaceable)
                        .and_then(|credentials| inject::auth(&spec, &credentials)),
                }
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
                let api = self.providers.credential_api(&found, &connection.params).await?;
                let mut headers = api
                    .headers
                    .iter()
                    .map(|(name, value)| sensitive((name, value)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        EngineError::Invalid("the configuration's apiHeaders are malformed".into())
                    })?;
                headers.extend(auth.headers);
                (api.base_url, headers, auth.query)
            }
            None => {
                let plugin = self.providers.of_integration(&found)?;
                let target = self.providers.target(&found, &connection.params).await?;
                let api = plugin.proxy_target(&target, &access_token).await?;
                let headers = api
                    .headers
                    .iter()
                    .map(|(name, value)| sensitive((name, value.expose())))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad_output("a malformed auth header"))?;
                (api.base_url, headers, None)
            }
        };
        // Scheme, the operator's hosts, a literal address; names are checked at connect.
        let base = self.outbound.parse(&base_url).map_err(|refused| match refused {
            crate::policy::PolicyError::Malformed => bad_output("a malformed API base URL"),
            refused => EngineError::Refused(refused),
        })?;
        let base = ApiBase::new(&base, query).ok_or_else(|| bad_output("an API base URL without a host"))?;
        let caller = Caller {
            project_id: project_id.to_owned(),
            entity_id: key.entity_id.to_owned(),
            agent_id: key.agent_id.to_owned(),
            connection_id: connection.id,
            integration: connection.integration,
            host: base.host().to_owned(),
        };
        Ok(ProxyPlan {
            caller: Arc::new(caller),
            agent,
            base,
            headers,
            retry: RetryRule::of(&found.config, self.providers.catalog().get(&found.provider).as_deref()),
            refreshed_at: connection.refreshed_at,
            expires_at: connection.expires_at,
        })
    }
}

/// An API base, kept in parts, so that a call names its URI without a URL parsed
/// per call.
pub(crate) struct ApiBase {
    scheme: Scheme,
    authority: Authority,
    /// Without its trailing slash.
    path: String,
    /// A credential every call carries in its query (`api_key=…`), percent-encoded.
    auth_query: Option<String>,
}

impl ApiBase {
    /// The base as `url` (already parsed and normalized) names it; its query and
    /// fragment, if any, are dropped. `None` if it has no host.
    fn new(url: &url::Url, auth_query: Option<String>) -> Option<ApiBase> {
        url.host_str()?;
        let uri: Uri = url.as_str().parse().ok()?;
        let parts = uri.into_parts();
        Some(ApiBase {
            scheme: parts.scheme?,
            authority: parts.authority?,
            path: url.path().trim_end_matches('/').to_owned(),
            auth_query,
        })
    }

    pub fn host(&self) -> &str {
        self.authority.host()
    }

    /// The URI of `path` (relative, checked by `proxy::check_path`) under the base,
    /// with `query`. The path is appended as it is, so it cannot leave the base.
    pub fn target(&self, path: &str, query: Option<&str>) -> EngineResult<Uri> {
        let query = query.filter(|q| !q.is_empty());
        let extra = self.auth_query.as_deref().map_or(0, |q| q.len() + 1);
        let mut target = String::with_capacity(
            self.path.len() + path.len() + query.map_or(0, |q| q.len() + 2) + extra + 1,
        );
        target.push_str(&self.path);
        target.push('/');
        target.push_str(path);
        for (at, part) in query.into_iter().chain(self.auth_query.as_deref()).enumerate() {
            target.push(if at == 0 { '?' } else { '&' });
            target.push_str(part);
        }
        let malformed = || EngineError::Invalid("the proxy URL is malformed".into());
        // As `Bytes`, the string is taken as it is; as a `String`, it would be copied.
        let path_and_query =
            PathAndQuery::from_maybe_shared(bytes::Bytes::from(target)).map_err(|_| malformed())?;
        let mut parts = hyper::http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).map_err(|_| malformed())
    }
}

#[cfg(test)]
mod tests {
    use super::ApiBase;

    fn base(url: &str) -> ApiBase {
        ApiBase::new(&url::Url::parse(url).unwrap(), None).unwrap()
    }

    #[test]
    fn a_call_goes_under_the_base_path_with_its_query_and_encoding_kept() {
        let gmail = base("https://gmail.googleapis.com/gmail/v1/?ignored=1");
        assert_eq!(gmail.host(), "gmail.googleapis.com");
        let target = gmail.target("users/me/messages", Some("q=a%20b&max=5")).unwrap();
        assert_eq!(target, "https://gmail.googleapis.com/gmail/v1/users/me/messages?q=a%20b&max=5");
        assert_eq!(gmail.target("a%2Fb", Some("")).unwrap(), "https://gmail.googleapis.com/gmail/v1/a%2Fb");
        let root = base("http://127.0.0.1:8080");
        assert_eq!(root.host(), "127.0.0.1");
        assert_eq!(root.target("user", None).unwrap(), "http://127.0.0.1:8080/user");
        assert_eq!(base("http://[::1]:9/api").host(), "[::1]");
    }

    #[test]
    fn a_credential_in_the_query_follows_the_callers_own() {
        let url = url::Url::parse("https://api.example/v1").unwrap();
        let keyed = ApiBase::new(&url, Some("api_key=s%26k".into())).unwrap();
        assert_eq!(
            keyed.target("items", Some("page=2")).unwrap(),
            "https://api.example/v1/items?page=2&api_key=s%26k"
        );
        assert_eq!(keyed.target("items", None).unwrap(), "https://api.example/v1/items?api_key=s%26k");
    }

    #[test]
    fn bytes_no_uri_may_carry_are_refused() {
        let api = base("https://api.example/v1");
        for bad in ["a b", "a\r\nb", "caf\u{e9}\u{0}"] {
            assert!(api.target(bad, None).is_err(), "{bad:?}");
        }
    }
}
