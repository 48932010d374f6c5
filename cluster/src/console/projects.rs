//! `/console`: the projects, and a new one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use securix_engine::model::page::PageRequest;
use serde::Deserialize;

use super::table::{Pages, Row, Table};
use super::{ConsoleSession, page, posted, see_other, signed_in};
use crate::pages::render::{Frame, Page};
use crate::server::AppState;

#[derive(Template)]
#[template(path = "console/projects.html")]
struct ProjectsPage {
    frame: Frame,
    csrf: String,
    projects: Table,
    problem: Option<String>,
}

impl Page for ProjectsPage {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

async fn projects_page(state: &AppState, session: &ConsoleSession, problem: Option<String>) -> HttpResponse {
    let listed = match state.engine.list_projects(&PageRequest { limit: Some(500), cursor: None }).await {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(%error, "the console could not list projects");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("The store is not answering.");
        }
    };
    let rows = listed
        .items
        .iter()
        .map(|p| Row {
            cells: vec![p.name.clone(), p.id.clone(), p.created_at.rfc3339()],
            actions: Vec::new(),
        })
        .collect();
    let projects = Table {
        id: "projects",
        title: "Projects",
        headings: vec!["Name", "Project id", "Created"],
        rows,
        empty: "No projects yet. Create the first one below: each app or environment gets its own.",
        more: listed.next_cursor.is_some(),
        pages: Pages::default(),
    };
    let status = if problem.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page(
        status,
        &ProjectsPage { frame: Frame::new("Projects"), csrf: session.csrf.clone(), projects, problem },
    )
}

#[get("/console")]
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    match signed_in(&request, &state).await {
        Ok(session) => projects_page(&state, &session, None).await,
        Err(to_sign_in) => to_sign_in,
    }
}

#[derive(Deserialize)]
struct NewProject {
    name: String,
}

#[post("/console/projects")]
pub async fn create(state: web::Data<AppState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, session): (NewProject, _) = match posted(&request, &state, &body).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    match state.engine.create_project(&form.name).await {
        Ok(project) => see_other(&format!("/console/projects/{}", project.id)),
        Err(error) => projects_page(&state, &session, Some(super::project::said(&error))).await,
    }
}
