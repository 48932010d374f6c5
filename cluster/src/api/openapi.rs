//! The OpenAPI 3.1 document, served at `GET /openapi.json`. The operations come
//! from the handlers themselves (`#[utoipa::path]`), collected as `api::configure`
//! registers them (`utoipa_actix_web`); this file adds what no handler says: the
//! document's info and tags, the security schemes, the shared problem and page
//! responses, and the proxy (a scope the app matches first, documented here).

use actix_web::{HttpResponse, get, web};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document};
use utoipa::{Modify, OpenApi};

use super::identity;
use super::problem::Problem;
use super::problem::responses;
use crate::pages;

/// What the handlers do not say themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "SecuriX",
        description = "An auth broker: apps and agents connect their users' accounts at third-party \
            providers, then call those providers' APIs through the proxy without ever holding a token. \
            Errors are RFC 9457 problem documents (`application/problem+json`).",
    ),
    components(schemas(Problem)),
    modifiers(&Shared),
    tags(
        (name = "sessions", description = "Connecting a user: popup and device flows"),
        (name = "connections", description = "An entity's connections (never a token)"),
        (name = "catalog", description = "What a project can use, and its events"),
        (name = "webhooks", description = "Webhook endpoints and signing keys"),
        (name = "proxy", description = "Calling a provider's API with the user's credential"),
        (name = "agents", description = "Tokens that let an agent act for one user"),
        (name = "admin", description = "Operating SecuriX, behind the admin token"),
        (name = "pages", description = "End-user pages and the browser SDK (no API key)"),
        (name = "operations", description = "Liveness, readiness, metrics, this document"),
    ),
)]
struct Base;

/// The security schemes, the shared responses and the proxy.
struct Shared;

impl Modify for Shared {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                identity::API_KEY,
                "The project's secret key (`sxk_…`)",
            ))),
        );
        components.add_security_scheme(
            "adminToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                identity::ADMIN_TOKEN,
                "The operator's admin token (`SECURIX_ADMIN_TOKEN`)",
            ))),
        );
        components.add_security_scheme(
            "agentToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An agent token (`sxa_…`): one agent acting for one entity, in place of the API key \
                         and the identity headers",
                    ))
                    .build(),
            ),
        );
        for (name, response) in responses::all().into_iter().chain(pages::forms::responses()) {
            components.responses.insert(name.to_owned(), response);
        }
        proxy_route::document(document);
    }
}

/// The document before `api::configure` adds the app's operations.
pub fn base() -> Document {
    Base::openapi()
}

/// The document as served: built once per app, with the app.
pub struct Served(Document);

impl Served {
    pub fn new(document: Document) -> web::Data<Served> {
        web::Data::new(Served(document))
    }
}

/// This API as OpenAPI 3.1.
#[utoipa::path(
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "This document", body = Object, content_type = "application/json")),
)]
#[get("/openapi.json")]
pub async fn openapi_json(served: web::Data<Served>) -> HttpResponse {
    HttpResponse::Ok().json(&served.0)
}

/// The proxy: a scope matched by its prefix ahead of every other route
/// (`server::app`), whose one default service takes every method, so it
/// has no `#[utoipa::path]` of its own to register. Documented here.
mod proxy_route {
    use super::*;
    use crate::api::problem::responses::{
        BadGateway, BadRequest, Conflict, Forbidden, GatewayTimeout, Internal, NotFound, PayloadTooLarge,
        RequestTimeout, ServiceUnavailable, Unauthorized,
    };

    /// The proxy's path. `{path}` is the rest of the provider's path and may hold
    /// slashes, which an OpenAPI template cannot say: send it unencoded.
    pub const PROXY: &str = "/v1/proxy/{integration}/{path}";

    /// Every method the proxy forwards, each an operation of its own (operation ids
    /// are unique in a document).
    pub const PROXY_METHODS: [(HttpMethod, &str); 5] = [
        (HttpMethod::Get, "proxyGet"),
        (HttpMethod::Post, "proxyPost"),
        (HttpMethod::Put, "proxyPut"),
        (HttpMethod::Patch, "proxyPatch"),
        (HttpMethod::Delete, "proxyDelete"),
    ];

    /// Call a provider's API through SecuriX.
    ///
    /// As the entity's connection: the method, query, headers and body are
    /// forwarded with the credential added; the provider's answer streams back as
    /// it is.
    #[utoipa::path(
        get,
        path = "/v1/proxy/{integration}/{path}",
        tag = "proxy",
        security(("apiKey" = []), ("agentToken" = [])),
        params(
            ("integration" = String, Path, description = "The integration's key in the project"),
            ("path" = String, Path, description = "The provider API's path, slashes included (send them unencoded)"),
            ("securix-agent-id" = Option<String>, Header, description = "The calling agent; required with the API key (an agent token names it)"),
            ("securix-entity-id" = Option<String>, Header, description = "The end user the call acts for; required with the API key (an agent token names it)"),
            ("securix-connection-id" = Option<String>, Header, description = "One of the entity's connections of this integration; its default one when left out"),
        ),
        request_body(
            description = "Forwarded as it is (at most 10 MiB)",
            content(("*/*")),
        ),
        responses(
            (status = "default", description = "The provider's answer: its status, headers and body, streamed. A status listed here may also be the provider's own; a problem from SecuriX is `application/problem+json`", content(("*/*"))),
            (status = 400, response = BadRequest),
            (status = 401, response = Unauthorized),
            (status = 403, response = Forbidden),
            (status = 404, response = NotFound),
            (status = 408, response = RequestTimeout),
            (status = 409, response = Conflict),
            (status = 413, response = PayloadTooLarge),
            (status = 500, response = Internal),
            (status = 502, response = BadGateway),
            (status = 503, response = ServiceUnavailable),
            (status = 504, response = GatewayTimeout),
        ),
    )]
    #[allow(dead_code)]
    fn proxy() {}

    pub fn document(document: &mut Document) {
        let operation: Operation = <__path_proxy as utoipa::Path>::operation();
        for (method, id) in PROXY_METHODS {
            let mut operation = operation.clone();
            operation.operation_id = Some(id.to_owned());
            if matches!(method, HttpMethod::Get | HttpMethod::Delete) {
                operation.request_body = None;
            }
            document.paths.add_path_operation(PROXY, vec![method], operation);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use actix_web::http::{Method, StatusCode};
    use actix_web::test::{self, TestRequest};
    use securix_engine::admin::IntegrationView;
    use securix_engine::flows::views::{
        Confirmed, ConnectionView, ProviderProgress, SessionCreated, SessionView,
    };
    use securix_engine::model::connection::{Account, ConnectionStatus};
    use securix_engine::model::event::{Event, EventKind};
    use securix_engine::model::session::{Flow, SessionStatus};
    use securix_engine::model::shard_owner::ShardOwner;
    use securix_engine::util::clock::{Rfc3339, Timestamp};
    use securix_engine::webhooks::keyring::{KeyStatus, KeyView};
    use serde_json::{Value, json};

    use super::proxy_route;

    const METHODS: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];

    /// The document as the app serves it.
    async fn served() -> Value {
        let app = test::init_service(crate::server::app()).await;
        let answer = test::call_service(&app, TestRequest::get().uri("/openapi.json").to_request()).await;
        assert_eq!(answer.status(), StatusCode::OK);
        serde_json::from_slice(&test::read_body(answer).await).unwrap()
    }

    /// The resource patterns in a `ResourceMap`'s `Debug`: actix has no API that
    /// lists its routes, and this is the map it routes by.
    fn patterns(map: &str) -> BTreeSet<String> {
        assert!(!map.contains("patterns: List("), "a resource with several patterns: teach this test");
        map.split("patterns: Single(\"")
            .skip(1)
            .filter_map(|rest| rest.split_once("\")").map(|(pattern, _)| pattern.to_owned()))
            .filter(|pattern| !pattern.is_empty())
            .collect()
    }

    /// Every (method, path) the app routes, path as OpenAPI writes it. Each pattern
    /// of the resource map is probed with every method: a probe no route takes gets
    /// the default service's problem. (Without the state, a handler that reads it
    /// answers 500 before doing anything.)
    async fn registered() -> BTreeSet<(String, String)> {
        let app = test::init_service(crate::server::app()).await;
        let first = test::call_service(&app, TestRequest::get().uri("/healthz").to_request()).await;
        let map = format!("{:?}", first.request().resource_map());
        // The root is a prefix (of ""), and the proxy's scope; another scope would
        // be a third, whose prefix the patterns below it leave out.
        assert_eq!(
            map.matches("is_prefix: true").count(),
            2,
            "a new scope: teach this test to join its prefix"
        );
        let mut patterns = patterns(&map);
        assert!(patterns.remove(super::super::proxy::SCOPE), "the proxy's scope: {map}");
        assert!(patterns.len() > 20, "too few patterns read from the resource map: {map}");
        let mut routed = BTreeSet::new();
        for pattern in patterns {
            // `{name}` or `{name:regex}`, filled with a value the regex-free ones take.
            let openapi_path: String = pattern
                .split('/')
                .map(|part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(variable) => format!("{{{}}}", variable.split(':').next().unwrap_or(variable)),
                    None => part.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let uri = openapi_path
                .split('/')
                .map(|part| if part.starts_with('{') { "probe" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            for method in METHODS {
                let request = TestRequest::default().method(method.clone()).uri(&uri).to_request();
                let answer = test::call_service(&app, request).await;
                let status = answer.status();
                let body = test::read_body(answer).await;
                let unrouted = status == StatusCode::NOT_FOUND
                    && serde_json::from_slice::<Value>(&body).is_ok_and(|b| b["detail"] == "no such route");
                if !unrouted {
                    routed.insert((method.as_str().to_lowercase(), openapi_path.clone()));
                }
            }
        }
        // The proxy's scope takes any path under it, for every method it forwards.
        for (method, _) in proxy_route::PROXY_METHODS {
            let method = serde_json::to_value(method).unwrap().as_str().unwrap().to_owned();
            let probe = TestRequest::default()
                .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                .uri("/v1/proxy/probe/probe")
                .to_request();
            let answer = test::call_service(&app, probe).await;
            let body = test::read_body(answer).await;
            let unrouted =
                serde_json::from_slice::<Value>(&body).is_ok_and(|b| b["detail"] == "no such route");
            if !unrouted {
                routed.insert((method, proxy_route::PROXY.to_owned()));
            }
        }
        routed
    }

    fn documented(document: &Value) -> BTreeSet<(String, String)> {
        let mut operations = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in ["get", "head", "post", "put", "patch", "delete", "options", "trace"] {
                if item.get(method).is_some() {
                    operations.insert((method.to_owned(), path.clone()));
                }
            }
        }
        operations
    }

    #[actix_web::test]
    async fn every_route_the_app_registers_is_documented_and_nothing_else_is() {
        let document = served().await;
        let documented = documented(&document);
        let mut registered = registered().await;
        // The operator's console is pages for people, not a contract for programs:
        // its forms change as the console does (the admin API is what it drives).
        let console = registered.iter().filter(|(_, path)| path.starts_with("/console")).count();
        assert!(console > 0, "the console's routes are seen, so leaving them out is a choice");
        registered.retain(|(_, path)| !path.starts_with("/console"));
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&registered).collect();
        assert!(undocumented.is_empty(), "routed but not in /openapi.json: {undocumented:?}");
        assert!(unrouted.is_empty(), "in /openapi.json but not routed: {unrouted:?}");
        assert!(registered.contains(&("post".into(), "/v1/sessions".into())));
        assert!(registered.contains(&("get".into(), "/openapi.json".into())));
    }

    /// Whether an agent token opens the route as well as the API key.
    fn opens_to_agents(path: &str) -> bool {
        path.starts_with("/v1/proxy/") || ["/v1/sessions/{id}", "/v1/mcp"].contains(&path)
    }

    #[actix_web::test]
    async fn every_api_operation_names_its_credential_and_its_problems() {
        let document = served().await;
        let schemes = &document["components"]["securitySchemes"];
        assert_eq!(schemes["apiKey"]["name"], "securix-api-key");
        assert_eq!(schemes["adminToken"]["name"], "securix-admin-token");
        assert_eq!(
            document["components"]["schemas"]["Problem"]["required"],
            json!(["type", "title", "status", "detail"])
        );
        let mut ids = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                assert!(
                    ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
                    "{at}: operationId twice"
                );
                if !path.starts_with("/v1/") {
                    assert!(
                        operation.get("security").is_none(),
                        "{at}: a page or ops route needs no credential"
                    );
                    continue;
                }
                let expected = if path.starts_with("/v1/admin/") {
                    json!([{ "adminToken": [] }])
                } else if opens_to_agents(path) {
                    json!([{ "apiKey": [] }, { "agentToken": [] }])
                } else {
                    json!([{ "apiKey": [] }])
                };
                assert_eq!(operation["security"], expected, "{at}");
                let responses = operation["responses"].as_object().unwrap();
                for status in ["401", "500"] {
                    assert!(responses.contains_key(status), "{at}: no {status}");
                }
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let reference = response["$ref"].as_str().unwrap_or_default();
                        let name = reference.strip_prefix("#/components/responses/").unwrap_or_default();
                        let content = &document["components"]["responses"][name]["content"];
                        assert_eq!(
                            content["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{at}: {status} is not a problem"
                        );
                    }
                }
                if operation.get("requestBody").is_some() {
                    for status in ["400", "408", "413"] {
                        assert!(responses.contains_key(status), "{at}: a body, and no {status}");
                    }
                }
            }
        }
    }

    /// `value` against `schema`, resolving `$ref`s in `document`: every property
    /// `value` has is in the schema and every one the schema has is in `value` (the
    /// samples below fill every field), types and enums match.
    fn conforms(value: &Value, schema: &Value, document: &Value, at: &str) -> Result<(), String> {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/components/schemas/");
            return conforms(value, &document["components"]["schemas"][name], document, at);
        }
        if let Some(choices) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
            let errors: Vec<String> =
                choices.iter().filter_map(|choice| conforms(value, choice, document, at).err()).collect();
            return if errors.len() < choices.len() { Ok(()) } else { Err(errors.join("; ")) };
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let types: Vec<&str> = match &schema["type"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.is_empty() && !types.iter().any(|t| *t == kind || (*t == "number" && kind == "integer")) {
            return Err(format!("{at}: {kind} where the schema says {types:?}"));
        }
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    conforms(item, &schema["items"], document, &format!("{at}[{index}]"))?;
                }
            }
            Value::Object(fields) if schema.get("properties").is_some() => {
                let properties = schema["properties"].as_object().unwrap();
                let (sent, described): (BTreeSet<_>, BTreeSet<_>) =
                    (fields.keys().collect(), properties.keys().collect());
                if sent != described {
                    return Err(format!("{at}: fields {sent:?}, schema {described:?}"));
                }
                for (name, field) in fields {
                    conforms(field, &properties[name], document, &format!("{at}.{name}"))?;
                }
            }
            Value::Object(fields) if schema.get("additionalProperties").is_some_and(Value::is_object) => {
                for (name, field) in fields {
                    conforms(field, &schema["additionalProperties"], document, &format!("{at}.{name}"))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check(document: &Value, schema: &str, value: impl serde::Serialize) {
        let value = serde_json::to_value(value).unwrap();
        let reference = json!({ "$ref": format!("#/components/schemas/{schema}") });
        if let Err(mismatch) = conforms(&value, &reference, document, schema) {
            panic!("the engine's answer and its schema differ: {mismatch}");
        }
    }

    #[actix_web::test]
    async fn the_engine_answers_match_the_schemas_that_describe_them() {
        let document = served().await;
        let at = Rfc3339(Timestamp(1_790_000_000_123));
        let account = Account { id: "u1".into(), email: Some("u@example.com".into()) };
        let connection = ConnectionView {
            connection_id: "conn_1".into(),
            integration: "github".into(),
            provider: "github".into(),
            account,
            scopes: vec!["repo".into()],
            status: ConnectionStatus::Active,
            default: true,
            created_at: at,
            refreshed_at: at,
        };
        check(
            &document,
            "SessionCreated",
            SessionCreated {
                session_id: "ses_1".into(),
                flow: Flow::Device,
                auth_url: "https://sx.example/device".into(),
                device_auth_code: Some("ABCD-EFGH".into()),
                interval: Some(5),
                expires_at: at,
            },
        );
        let progress =
            ProviderProgress { status: SessionStatus::Completed, connection_id: Some("conn_1".into()) };
        check(
            &document,
            "SessionView",
            SessionView {
                session_id: "ses_1".into(),
                flow: Flow::Popup,
                status: SessionStatus::Completed,
                providers: BTreeMap::from([("github".to_owned(), progress)]),
                expires_at: at,
            },
        );
        let connection_for_admin = connection.clone();
        check(
            &document,
            "Confirmed",
            Confirmed { status: SessionStatus::Completed, connections: vec![connection] },
        );
        check(
            &document,
            "IntegrationView",
            IntegrationView {
                integration: "github".into(),
                provider: "github".into(),
                client_id: "client".into(),
                scopes: vec![],
                config: json!({ "apiBaseUrl": "https://api.example" }),
            },
        );
        check(
            &document,
            "Event",
            Event {
                id: "evt_1".into(),
                project_id: "prj_1".into(),
                seq: 1,
                kind: EventKind::ConnectionCreated,
                entity_id: Some("user_1".into()),
                session_id: Some("ses_1".into()),
                connection_id: Some("conn_1".into()),
                status: Some("active".into()),
                created_at: Timestamp(1),
            },
        );
        check(
            &document,
            "WebhookKey",
            KeyView {
                id: "whk_1".into(),
                public_key: "whpk_x".into(),
                created_at: at,
                status: KeyStatus::Active,
                legacy: true,
            },
        );
        check(&document, "ShardOwner", ShardOwner { shard: 3, node_id: "node-a".into(), epoch: 2 });
        check(
            &document,
            "EntityView",
            securix_engine::admin::EntityView {
                entity_id: "user_1".into(),
                connections: 2,
                created_at: at,
                last_activity_at: at,
            },
        );
        check(
            &document,
            "ProjectConnectionView",
            securix_engine::admin::ProjectConnectionView {
                entity_id: "user_1".into(),
                connection: connection_for_admin,
            },
        );
        check(
            &document,
            "AdminSessionView",
            securix_engine::admin::AdminSessionView {
                session_id: "ses_1".into(),
                entity_id: "user_1".into(),
                flow: Flow::Device,
                status: SessionStatus::Failed,
                providers: BTreeMap::from([("github".to_owned(), SessionStatus::Failed)]),
                error: Some("the provider refused".into()),
                created_at: at,
                expires_at: at,
            },
        );
        use securix_engine::webhooks::deliveries::{DeliveryStatus, DeliveryView};
        let attempt = |status, response_status, error: Option<&str>, next_attempt_at| DeliveryView {
            delivery_id: "dlv_1".into(),
            event_id: "evt_1".into(),
            endpoint_id: "whe_1".into(),
            attempt: 2,
            status,
            response_status,
            error: error.map(str::to_owned),
            latency_ms: 12,
            at,
            next_attempt_at,
        };
        check(
            &document,
            "AuditView",
            securix_engine::admin::AuditView {
                at,
                entity_id: "user_1".into(),
                agent_id: "cli".into(),
                connection_id: "con_1".into(),
                integration: "github".into(),
                method: "GET".into(),
                host: "api.github.com".into(),
                retries: 0,
                status: Some(200),
            },
        );
        // The checker wants every field the schema names: one attempt that has them all.
        check(&document, "DeliveryView", attempt(DeliveryStatus::Pending, Some(503), Some("busy"), Some(at)));
        for status in [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed] {
            match status {
                DeliveryStatus::Pending | DeliveryStatus::Delivered | DeliveryStatus::Failed => {
                    check(&document, "DeliveryStatus", status)
                }
            }
        }
    }

    /// Every variant of the engine's enums is in its schema's `enum`. The matches
    /// make a variant added to the engine fail to compile here until it is listed.
    #[actix_web::test]
    async fn every_engine_enum_variant_is_in_its_schema() {
        let document = served().await;
        let flows = [Flow::Popup, Flow::Device];
        for flow in flows {
            match flow {
                Flow::Popup | Flow::Device => check(&document, "Flow", flow),
            }
        }
        use SessionStatus as S;
        for status in [
            S::Pending,
            S::Authorizing,
            S::AwaitingConfirmation,
            S::Completed,
            S::Denied,
            S::Expired,
            S::Failed,
        ] {
            match status {
                S::Pending
                | S::Authorizing
                | S::AwaitingConfirmation
                | S::Completed
                | S::Denied
                | S::Expired
                | S::Failed => check(&document, "SessionStatus", status),
            }
        }
        use ConnectionStatus as C;
        for status in [C::Pending, C::Active, C::ReauthRequired, C::Revoked] {
            match status {
                C::Pending | C::Active | C::ReauthRequired | C::Revoked => {
                    check(&document, "ConnectionStatus", status)
                }
            }
        }
        for status in [KeyStatus::Active, KeyStatus::Retired] {
            match status {
                KeyStatus::Active | KeyStatus::Retired => check(&document, "KeyStatus", status),
            }
        }
        use EventKind as E;
        let kinds = [
            E::SessionCompleted,
            E::SessionExpired,
            E::SessionDenied,
            E::SessionFailed,
            E::ConnectionCreated,
            E::ConnectionUpdated,
            E::ConnectionRefreshed,
            E::ConnectionReauthRequired,
            E::ConnectionRevoked,
            E::EndpointDisabled,
        ];
        for kind in kinds {
            match kind {
                E::SessionCompleted
                | E::SessionExpired
                | E::SessionDenied
                | E::SessionFailed
                | E::ConnectionCreated
                | E::ConnectionUpdated
                | E::ConnectionRefreshed
                | E::ConnectionReauthRequired
                | E::ConnectionRevoked
                | E::EndpointDisabled => check(&document, "EventKind", kind),
            }
        }
    }
}
