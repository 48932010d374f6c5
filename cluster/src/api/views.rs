//! The engine's answers as the OpenAPI document describes them. The engine has no
//! HTTP (and no OpenAPI), so its wire types are mirrored here field for field; the
//! tests of `api::openapi` serialize real engine values and check each one against
//! its mirror's schema, so a field added to one and not the other fails a test.
//! Nothing here is ever constructed: these types only describe. A field the engine
//! leaves out when it has no value is `required = false` rather than `Option`: it
//! is absent then, never `null`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// How the user authorizes: a popup opened by the app's page, or a code entered on
/// `/device` (RFC 8628).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Flow {
    Popup,
    Device,
}

/// A session's status, or one of its providers'.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SessionStatus {
    Pending,
    Authorizing,
    AwaitingConfirmation,
    Completed,
    Denied,
    Expired,
    Failed,
}

/// `pending`: authorized at the provider, waiting for the popup's `sxc`;
/// `reauth_required`: the provider refused a refresh, the user must connect again.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Pending,
    Active,
    ReauthRequired,
    Revoked,
}

/// A new session: where to send the user.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SessionCreated {
    session_id: String,
    flow: Flow,
    /// The popup's or the device page's URL.
    #[schema(format = "uri")]
    auth_url: String,
    /// Device flow: the code the user types on `/device`.
    #[schema(required = false)]
    device_auth_code: String,
    /// Device flow: seconds between polls of `GET /v1/sessions/{id}`.
    #[schema(required = false)]
    interval: u32,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// How far one provider of a session got.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProviderProgress {
    status: SessionStatus,
    /// Once connected.
    #[schema(required = false)]
    connection_id: String,
}

/// A session's status.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SessionView {
    session_id: String,
    flow: Flow,
    status: SessionStatus,
    /// By integration key.
    providers: BTreeMap<String, ProviderProgress>,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// The provider account behind a connection.
#[derive(ToSchema)]
pub struct Account {
    id: String,
    #[schema(required = false)]
    email: String,
}

/// A connection as the API shows it: never a token.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ConnectionView {
    connection_id: String,
    integration: String,
    provider: String,
    account: Account,
    scopes: Vec<String>,
    status: ConnectionStatus,
    /// The connection the proxy uses for its integration when a call names none:
    /// the one made so with `PATCH`, else the first connected.
    default: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    refreshed_at: String,
}

/// A popup session confirmed with its `sxc`: the connections it activated.
#[derive(ToSchema)]
pub struct Confirmed {
    status: SessionStatus,
    connections: Vec<ConnectionView>,
}

/// An integration as it may be shown: never the client secret.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct IntegrationView {
    /// The integration's key in the project.
    integration: String,
    /// The catalog entry or plugin behind it.
    provider: String,
    client_id: String,
    scopes: Vec<String>,
    /// The provider's configuration as stored (endpoints, an OIDC `discoveryUrl`, …).
    #[schema(value_type = Object)]
    config: serde_json::Value,
}

/// What a state change says happened.
#[derive(ToSchema)]
pub enum EventKind {
    #[schema(rename = "session.completed")]
    SessionCompleted,
    #[schema(rename = "session.expired")]
    SessionExpired,
    #[schema(rename = "session.denied")]
    SessionDenied,
    #[schema(rename = "session.failed")]
    SessionFailed,
    #[schema(rename = "connection.created")]
    ConnectionCreated,
    #[schema(rename = "connection.updated")]
    ConnectionUpdated,
    #[schema(rename = "connection.refreshed")]
    ConnectionRefreshed,
    #[schema(rename = "connection.reauth_required")]
    ConnectionReauthRequired,
    #[schema(rename = "connection.revoked")]
    ConnectionRevoked,
    #[schema(rename = "endpoint.disabled")]
    EndpointDisabled,
}

/// A thin event: ids, type, status and time, never a token.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Event {
    id: String,
    project_id: String,
    /// Position in the project's log, from 1.
    #[schema(minimum = 1)]
    seq: u64,
    #[schema(rename = "type")]
    kind: EventKind,
    #[schema(required = false)]
    entity_id: String,
    #[schema(required = false)]
    session_id: String,
    #[schema(required = false)]
    connection_id: String,
    #[schema(required = false)]
    status: String,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
}

/// `retired` keys sign nothing any more.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Retired,
}

/// A webhook signing key's public half.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct WebhookKey {
    id: String,
    /// `whpk_…`: verifies the `securix-signature` of deliveries.
    public_key: String,
    #[schema(format = DateTime)]
    created_at: String,
    status: KeyStatus,
    /// Present (and true) on a copy of a former global key, which other projects may
    /// share: retire it once receivers trust this project's own key.
    #[schema(required = false)]
    legacy: bool,
}

/// Which node owns a shard, since which epoch.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ShardOwner {
    shard: u32,
    node_id: String,
    epoch: u64,
}

/// An entity as the operator sees it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct EntityView {
    entity_id: String,
    /// Its connections that are not revoked.
    connections: usize,
    #[schema(format = DateTime)]
    created_at: String,
    /// When one of its connections last connected or renewed.
    #[schema(format = DateTime)]
    last_activity_at: String,
}

/// A connection in the project-wide listing: as an entity's, with its entity.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProjectConnectionView {
    entity_id: String,
    connection_id: String,
    integration: String,
    provider: String,
    account: Account,
    scopes: Vec<String>,
    status: ConnectionStatus,
    default: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    refreshed_at: String,
}

/// A session as the operator sees it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AdminSessionView {
    session_id: String,
    entity_id: String,
    flow: Flow,
    status: SessionStatus,
    /// Each provider's step, by integration.
    providers: BTreeMap<String, SessionStatus>,
    /// Why it failed, when it did.
    #[schema(required = false)]
    error: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// What came of one webhook delivery attempt.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// It failed and will be tried again at `nextAttemptAt`.
    Pending,
    Delivered,
    /// It failed and will not be tried again.
    Failed,
}

/// One attempt at one webhook endpoint.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DeliveryView {
    delivery_id: String,
    event_id: String,
    endpoint_id: String,
    /// Which try this was (1 the first).
    attempt: u32,
    status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    #[schema(required = false)]
    response_status: u16,
    /// Why it failed, when no status says it.
    #[schema(required = false)]
    error: String,
    latency_ms: u64,
    #[schema(format = DateTime)]
    at: String,
    #[schema(required = false, format = DateTime)]
    next_attempt_at: String,
}

/// One use of a token, as the operator's audit listing shows it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AuditView {
    #[schema(format = DateTime)]
    at: String,
    entity_id: String,
    agent_id: String,
    connection_id: String,
    integration: String,
    method: String,
    host: String,
    /// How many times the call was sent again after the provider asked to slow down.
    retries: u32,
    /// The provider's answer status, `0` when none arrived (unreachable, timed out);
    /// absent on records written before statuses were.
    #[schema(required = false)]
    status: u16,
}
