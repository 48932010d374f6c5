//! The operator's views across a project: its entities and its connections, read
//! from the entities' subspace a page at a time (`model::page::scan`, its work
//! bounded per page however sparse the matches), and its sessions, newest first.

use foundationdb_tuple::Element;
use serde::Serialize;

use super::Admin;
use crate::error::EngineResult;
use crate::flows::views::ConnectionView;
use crate::model::audit::{self, AuditRecord};
use crate::model::connection::{Connection, ConnectionStatus};
use crate::model::page::{self, Page, PageRequest, Step};
use crate::model::session::{self, AuthSession};
use crate::model::{decode, ids, keys};
use crate::util::clock::Rfc3339;

/// Audit runs (batches of one entity's records) a page of the audit log reads at most.
const AUDIT_RUN_BUDGET: usize = 2_000;
/// Index entries read per round trip of the audit listing.
const AUDIT_BATCH: usize = 64;

/// Pairs a page of entities or connections reads at most: a sparse match returns a
/// short page with a cursor rather than scanning the whole project.
const SCAN_BUDGET: usize = 20_000;

/// An entity as the operator sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityView {
    pub entity_id: String,
    /// Its connections that are not revoked.
    pub connections: usize,
    /// When it first connected.
    pub created_at: Rfc3339,
    /// When one of its connections last connected or renewed.
    pub last_activity_at: Rfc3339,
}

/// A connection in the project-wide listing: as an entity's, with its entity.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectConnectionView {
    pub entity_id: String,
    #[serde(flatten)]
    pub connection: ConnectionView,
}

/// Which connections the project-wide listing shows.
#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    pub integration: Option<String>,
    pub status: Option<ConnectionStatus>,
    pub entity_id: Option<String>,
}

impl ConnectionFilter {
    fn shows(&self, c: &Connection) -> bool {
        self.integration.as_ref().is_none_or(|i| *i == c.integration)
            && self.status.is_none_or(|s| s == c.status)
            && c.status != ConnectionStatus::Pending
    }
}

/// A session as the operator sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminSessionView {
    pub session_id: String,
    pub entity_id: String,
    pub flow: session::Flow,
    pub status: session::SessionStatus,
    /// Each provider's step, by integration.
    pub providers: std::collections::BTreeMap<String, session::SessionStatus>,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: Rfc3339,
    pub expires_at: Rfc3339,
}

impl From<AuthSession> for AdminSessionView {
    fn from(s: AuthSession) -> Self {
        AdminSessionView {
            providers: s.providers.iter().map(|(key, p)| (key.clone(), p.status)).collect(),
            session_id: s.id,
            entity_id: s.entity_id,
            flow: s.flow,
            status: s.status,
            error: s.error,
            created_at: Rfc3339(s.created_at),
            expires_at: Rfc3339(s.expires_at),
        }
    }
}

/// One use of a token, as the operator's audit listing shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    pub at: Rfc3339,
    pub entity_id: String,
    pub agent_id: String,
    pub connection_id: String,
    pub integration: String,
    pub method: String,
    pub host: String,
    /// How many times the call was sent again after the provider asked to slow down.
    pub retries: u32,
    /// The provider's answer status, `0` when none arrived; absent on older records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl AuditView {
    fn of(entity_id: &str, r: AuditRecord) -> Self {
        AuditView {
            at: Rfc3339(r.at),
            entity_id: entity_id.to_owned(),
            agent_id: r.agent_id,
            connection_id: r.connection_id,
            integration: r.integration,
            method: r.method,
            host: r.host,
            retries: r.retries,
            status: r.status,
        }
    }
}

/// Which token uses the audit listing shows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity_id: Option<String>,
    pub integration: Option<String>,
    pub agent_id: Option<String>,
}

impl AuditFilter {
    fn shows(&self, r: &AuditRecord) -> bool {
        self.integration.as_ref().is_none_or(|i| *i == r.integration)
            && self.agent_id.as_ref().is_none_or(|a| *a == r.agent_id)
    }
}

/// Which sessions the listing shows.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub status: Option<session::SessionStatus>,
    pub flow: Option<session::Flow>,
}

impl Admin {
    /// The project's entities in id order; `prefix` keeps those whose id starts so.
    pub async fn list_entities(
        &self,
        project_id: &str,
        prefix: Option<&str>,
        request: &PageRequest,
    ) -> EngineResult<Page<EntityView>> {
        self.require_project(project_id).await?;
        let limit = request.limit()?;
        let space = keys::project_space(project_id).subspace(&("entity",));
        let range = match prefix.filter(|p| !p.is_empty()) {
            Some(prefix) => {
                ids::check_app_id(prefix, "entity id prefix")?;
                // A packed string ends with a terminator: without it, a prefix.
                let mut begin = space.pack(&(prefix,));
                begin.pop();
                let mut end = begin.clone();
                end.push(0xff);
                (begin, end)
            }
            None => space.range(),
        };
        let tx = self.store.begin().await?;
        // An entity is the keys of its subspace; it is listed once it holds a connection.
        let (mut items, mut current): (Vec<EntityView>, Option<EntityView>) = (Vec::new(), None);
        let next_cursor =
            page::scan(&tx, "entities", &space, range, request.cursor.as_deref(), SCAN_BUDGET, |pair| {
                let Ok(parts) = space.unpack::<Vec<Element>>(&pair.key) else { return Ok(Step::Next) };
                let Some(Element::String(entity_id)) = parts.first() else { return Ok(Step::Next) };
                if current.as_ref().is_none_or(|c| c.entity_id != *entity_id) {
                    items.extend(current.take());
                    if items.len() >= limit {
                        return Ok(Step::Full);
                    }
                }
                if let [_, Element::String(kind), _] = parts.as_slice()
                    && kind == "conn"
                {
                    let c: Connection = decode(&pair.value, "connection")?;
                    let at = Rfc3339(c.created_at);
                    let entity = current.get_or_insert_with(|| EntityView {
                        entity_id: entity_id.to_string(),
                        connections: 0,
                        created_at: at,
                        last_activity_at: at,
                    });
                    entity.connections += usize::from(c.status != ConnectionStatus::Revoked);
                    entity.created_at = Rfc3339(entity.created_at.0.min(c.created_at));
                    entity.last_activity_at = Rfc3339(entity.last_activity_at.0.max(c.refreshed_at));
                }
                Ok(Step::Next)
            })
            .await?;
        items.extend(current);
        Ok(Page { items, next_cursor })
    }

    /// The project's connections that `filter` shows, by entity, never a token.
    pub async fn list_project_connections(
        &self,
        project_id: &str,
        filter: &ConnectionFilter,
        request: &PageRequest,
    ) -> EngineResult<Page<ProjectConnectionView>> {
        self.require_project(project_id).await?;
        let limit = request.limit()?;
        let space = keys::project_space(project_id).subspace(&("entity",));
        let range = match &filter.entity_id {
            Some(entity_id) => {
                ids::check_app_id(entity_id, "entity id")?;
                space.subspace(&(entity_id.as_str(),)).range()
            }
            None => space.range(),
        };
        let tx = self.store.begin().await?;
        let mut shown: Vec<(String, String)> = Vec::new();
        let next_cursor =
            page::scan(&tx, "connections", &space, range, request.cursor.as_deref(), SCAN_BUDGET, |pair| {
                let Ok((entity_id, kind, _)) = space.unpack::<(String, String, String)>(&pair.key) else {
                    return Ok(Step::Next);
                };
                if kind != "conn" {
                    return Ok(Step::Next);
                }
                let c: Connection = decode(&pair.value, "connection")?;
                if !filter.shows(&c) {
                    return Ok(Step::Next);
                }
                if shown.len() >= limit {
                    return Ok(Step::Full);
                }
                shown.push((entity_id, c.id));
                Ok(Step::Next)
            })
            .await?;
        // Each entity's views once, so each knows whether it is its integration's default.
        let mut items = Vec::with_capacity(shown.len());
        for group in shown.chunk_by(|a, b| a.0 == b.0) {
            let entity_id = &group[0].0;
            let ids: Vec<&str> = group.iter().map(|(_, id)| id.as_str()).collect();
            let views =
                ConnectionView::of_entity(&tx, project_id, entity_id, |c| ids.contains(&c.id.as_str()))
                    .await?;
            items.extend(
                views
                    .into_iter()
                    .map(|connection| ProjectConnectionView { entity_id: entity_id.clone(), connection }),
            );
        }
        Ok(Page { items, next_cursor })
    }

    /// The project's sessions, newest first, as `filter` picks them.
    pub async fn list_sessions(
        &self,
        project_id: &str,
        filter: &SessionFilter,
        request: &PageRequest,
    ) -> EngineResult<Page<AdminSessionView>> {
        self.require_project(project_id).await?;
        let limit = request.limit()?;
        let space = session::project_index(project_id);
        let tx = self.store.begin().await?;
        let mut ids = Vec::new();
        let next_cursor = page::scan(
            &tx,
            "sessions",
            &space,
            space.range(),
            request.cursor.as_deref(),
            SCAN_BUDGET,
            |pair| {
                if ids.len() >= limit {
                    return Ok(Step::Full);
                }
                if let Ok((_, session_id)) = space.unpack::<(i64, String)>(&pair.key) {
                    ids.push(session_id);
                }
                Ok(Step::Next)
            },
        )
        .await?;
        let mut items = Vec::with_capacity(ids.len());
        for session_id in &ids {
            let Some(found) = session::get(&tx, session_id).await? else { continue };
            let picked = filter.status.is_none_or(|s| s == found.status)
                && filter.flow.is_none_or(|f| f == found.flow);
            if picked {
                items.push(AdminSessionView::from(found));
            }
        }
        Ok(Page { items, next_cursor })
    }

    /// The project's newest `limit` events.
    pub async fn recent_events(
        &self,
        project_id: &str,
        limit: usize,
    ) -> EngineResult<Vec<crate::model::event::Event>> {
        self.require_project(project_id).await?;
        let tx = self.store.begin().await?;
        Ok(crate::model::event::recent(&tx, project_id, crate::util::clock::Timestamp(0), limit).await?)
    }

    /// The project's token uses, newest first, as `filter` picks them. A page ends
    /// where one batch of an entity's records ends, so it may hold up to one batch
    /// more than asked rather than split one across pages.
    pub async fn list_audit(
        &self,
        project_id: &str,
        filter: &AuditFilter,
        request: &PageRequest,
    ) -> EngineResult<Page<AuditView>> {
        self.require_project(project_id).await?;
        let limit = request.limit()?;
        let space = audit::project_index(project_id);
        let tx = self.store.begin().await?;
        let (mut items, mut cursor, mut runs) = (Vec::new(), request.cursor.clone(), 0);
        loop {
            let batch = PageRequest { limit: Some(AUDIT_BATCH), cursor: cursor.clone() };
            let index = page::read(&tx, "audit", &space, &batch).await?;
            for pair in &index.items {
                let entity_id = String::from_utf8_lossy(&pair.value);
                if filter.entity_id.as_ref().is_none_or(|e| *e == entity_id) {
                    let records: Vec<AuditView> = audit::run_of(&tx, project_id, &entity_id, &pair.key)
                        .await?
                        .into_iter()
                        .filter(|r| filter.shows(r))
                        .map(|r| AuditView::of(&entity_id, r))
                        .collect();
                    if !items.is_empty() && items.len() + records.len() > limit {
                        return Ok(Page { items, next_cursor: cursor });
                    }
                    items.extend(records);
                }
                cursor = Some(page::cursor_of("audit", &pair.key));
                runs += 1;
                if runs >= AUDIT_RUN_BUDGET || items.len() >= limit {
                    return Ok(Page { items, next_cursor: cursor });
                }
            }
            if index.next_cursor.is_none() {
                return Ok(Page { items, next_cursor: None });
            }
        }
    }
}
