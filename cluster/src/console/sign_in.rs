//! Signing in with the admin token, and out. Wrong tokens are limited per client:
//! `ATTEMPTS` in `WINDOW`, then 429 until the window has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{page, see_other, session};
use crate::api::identity::token_hash;
use crate::client_address::client_key;
use crate::pages::browser::from_our_origin;
use crate::pages::render::{Frame, Page};
use crate::server::AppState;

const ATTEMPTS: u32 = 5;
const WINDOW: Duration = Duration::from_secs(300);

/// Wrong tokens per client: when its window began, and how many.
static FAILURES: Mutex<Option<HashMap<String, (Instant, u32)>>> = Mutex::new(None);

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    frame: Frame,
    problem: Option<String>,
}

impl Page for SignInPage {
    fn frame(&self) -> &Frame {
        &self.frame
    }
}

fn sign_in_page(status: StatusCode, problem: Option<String>) -> HttpResponse {
    page(status, &SignInPage { frame: Frame::new("Sign in"), problem })
}

#[get("/console/sign-in")]
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    if session::current(&request, &state).await.is_some() {
        return see_other("/console");
    }
    sign_in_page(StatusCode::OK, None)
}

/// How long `client` must wait, if it has used up its attempts.
fn locked_out(client: &str) -> Option<Duration> {
    let mut failures = FAILURES.lock().ok()?;
    let (since, count) = *failures.get_or_insert_with(HashMap::new).get(client)?;
    let left = WINDOW.checked_sub(since.elapsed())?;
    (count >= ATTEMPTS).then_some(left)
}

fn count_failure(client: &str) {
    let Ok(mut failures) = FAILURES.lock() else { return };
    let failures = failures.get_or_insert_with(HashMap::new);
    // Forget windows that have passed, so the map stays small.
    failures.retain(|_, (since, _)| since.elapsed() < WINDOW);
    let entry = failures.entry(client.to_owned()).or_insert((Instant::now(), 0));
    entry.1 += 1;
}

#[derive(Deserialize)]
struct SignInForm {
    token: String,
}

#[post("/console/sign-in")]
pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    if from_our_origin(&request, &state).is_err() {
        return HttpResponse::Forbidden()
            .content_type("text/plain")
            .body("This form did not come from the console.");
    }
    let client = client_key(&request, &state.trusted_proxies);
    if let Some(wait) = locked_out(&client) {
        let mut answer = sign_in_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some(format!("Too many wrong tokens. Try again in {} seconds.", wait.as_secs().max(1))),
        );
        if let Ok(value) = wait.as_secs().max(1).to_string().parse() {
            answer.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return answer;
    }
    if !bool::from(token_hash(form.token.trim()).ct_eq(&state.admin_token_hash)) {
        count_failure(&client);
        return sign_in_page(StatusCode::UNAUTHORIZED, Some("That is not the admin token.".into()));
    }
    match session::open(&state).await {
        Ok((_, cookie)) => {
            let mut answer = see_other("/console");
            if let Err(error) = answer.add_cookie(&cookie) {
                tracing::warn!(%error, "cannot set the console cookie");
            }
            answer
        }
        Err(error) => {
            tracing::warn!(%error, "a console session could not be opened");
            sign_in_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The store is not answering; try again.".into()),
            )
        }
    }
}

#[derive(Deserialize)]
struct SignOutForm {}

#[post("/console/sign-out")]
pub async fn sign_out(state: web::Data<AppState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (_, signed): (SignOutForm, _) = match super::posted(&request, &state, &body).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    session::close(&state, &signed.id).await;
    let mut answer = see_other("/console/sign-in");
    if let Err(error) = answer.add_cookie(&session::cookie(&state, String::new())) {
        tracing::warn!(%error, "cannot clear the console cookie");
    }
    answer
}
