//! The operator's views across a project: its entities and its connections, read
//! from the entities' subspace a page at a time (`model::page::scan`, its work
//! bounded per page however sparse the matches), and its sessions, newest first.

use foundationdb_tuple::Element;
use serde::Serialize;

use super::Admin;
use crate::error::EngineResult;
use crate::flows::views::ConnectionView;
use crate::model::connection::{Connection, ConnectionStatus};
use crate::model::page::{self, Page, PageRequest, Step};
use crate::model::session::{self, AuthSession};
use crate::model::{decode, ids, keys};
use crate::util::clock::Rfc3339;

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
}
