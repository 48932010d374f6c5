//! The end-user pages are bound to their browser: cross-site posts change nothing,
//! a link or a provider's answer carried to another browser is refused with a page
//! that says so (and the session goes on in the right one), and every failure is a
//! page for a person with a code, never JSON or an engine's words.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN_TOKEN, Answer, Client, World, open_page, world};

async fn popup_session(w: &World) -> String {
    let challenge = securix_engine::flows::oauth::pkce::s256("an-sxc-for-the-pages-tests-0123456789abcd");
    let request = json!({"entityId": "user_123", "flow": "popup", "providers": {"mock": {"scopes": ["openid", "email"]}},
        "sxcChallenge": challenge, "origin": "https://app.example"});
    let created = w.client.json(Method::POST, "/v1/sessions", &w.app_headers(), request).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json()["sessionId"].as_str().unwrap().to_owned()
}

async fn status(w: &World, session_id: &str) -> Value {
    w.client.get(&format!("/v1/sessions/{session_id}"), &w.app_headers()).await.json()["status"].clone()
}

/// A page for a person: HTML, the given status, the problem's code, nothing internal.
fn assert_person_page(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let content_type = answer.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}: {}", answer.text);
    assert!(answer.text.contains(&format!("<code>{code}</code>")), "{}", answer.text);
    for internal in ["EN00", "ST00", "PL00", "{\""] {
        assert!(!answer.text.contains(internal), "no internals on a page: {}", answer.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_and_tokenless_posts_change_nothing() {
    let w = world().await;
    let session_id = popup_session(&w).await;
    let open = open_page(&w.client, &format!("/connect/{session_id}"), None).await;
    let path = format!("/connect/{session_id}/authorize");
    let form = format!("csrf={}&integration=mock", open.csrf);
    let post = |headers: Vec<(&'static str, String)>, body: String| {
        let client = w.client.clone();
        let path = path.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            client
                .send(
                    Method::POST,
                    &path,
                    &headers,
                    Some(body.into_bytes()),
                    Some("application/x-www-form-urlencoded"),
                )
                .await
        }
    };
    let cookie = open.cookie.clone();
    // Another site's auto-submitting form: the browser says where it came from.
    let from_elsewhere =
        post(vec![("cookie", cookie.clone()), ("sec-fetch-site", "cross-site".into())], form.clone()).await;
    assert_person_page(&from_elsewhere, 403, "cross-site-request");
    let same_site =
        post(vec![("cookie", cookie.clone()), ("sec-fetch-site", "same-site".into())], form.clone()).await;
    assert_person_page(&same_site, 403, "cross-site-request");
    let other_origin =
        post(vec![("cookie", cookie.clone()), ("origin", "https://evil.example".into())], form.clone()).await;
    assert_person_page(&other_origin, 403, "cross-site-request");
    // Without the cookie, or without this browser's token, nothing happens either.
    assert_person_page(&post(vec![], form.clone()).await, 403, "csrf-token-invalid");
    let wrong_token = post(vec![("cookie", cookie.clone())], "csrf=forged&integration=mock".into()).await;
    assert_person_page(&wrong_token, 403, "csrf-token-invalid");
    for _ in 0..50 {
        assert_eq!(post(vec![], "integration=mock".into()).await.status, 403);
    }
    let deny = w
        .client
        .send(
            Method::POST,
            &format!("/connect/{session_id}/deny"),
            &[("cookie", cookie.as_str()), ("sec-fetch-site", "cross-site")],
            Some(format!("csrf={}", open.csrf).into_bytes()),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_person_page(&deny, 403, "cross-site-request");
    assert_eq!(status(&w, &session_id).await, "pending", "nothing moved");

    // The page's own form, from its own browser, works (Origin as Chromium sends it).
    let base = w.server.base_url.clone();
    let ours =
        post(vec![("cookie", cookie), ("sec-fetch-site", "same-origin".into()), ("origin", base)], form)
            .await;
    assert_eq!(ours.status, 303, "{}", ours.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_or_a_provider_answer_carried_to_another_browser_is_refused_and_harms_nothing() {
    let w = world().await;
    let session_id = popup_session(&w).await;
    let victim = open_page(&w.client, &format!("/connect/{session_id}"), None).await;
    // Looking binds nothing (a link preview must not take the session) ...
    let preview = open_page(&w.client, &format!("/connect/{session_id}"), None).await;
    // ... the first browser to act owns it; the link opened elsewhere then gets a
    // page that says so, and acting there changes nothing.
    let authorize = format!("/connect/{session_id}/authorize");
    let started = victim.post(&w.client, &authorize, &[("integration", "mock")]).await;
    assert_eq!(started.status, 303, "{}", started.text);
    let elsewhere =
        w.client.get(&format!("/connect/{session_id}"), &[("cookie", preview.cookie.as_str())]).await;
    assert_person_page(&elsewhere, 403, "other-browser");
    assert!(elsewhere.text.contains("another browser"), "{}", elsewhere.text);
    assert_person_page(
        &preview.post(&w.client, &authorize, &[("integration", "mock")]).await,
        403,
        "other-browser",
    );

    // The provider step started in one browser, its answer opened in another.
    let callback = w.client.get(&started.location(), &[]).await.location();
    let stranger = open_page(&w.client, "/device", None).await; // some other browser with our cookie
    let carried = w.client.get(&callback, &[("cookie", stranger.cookie.as_str())]).await;
    assert_person_page(&carried, 403, "other-browser");
    let no_cookie = w.client.get(&callback, &[]).await;
    assert_person_page(&no_cookie, 403, "other-browser");
    assert_eq!(status(&w, &session_id).await, "authorizing", "the session is unharmed");
    assert_eq!(w.client.get("/v1/entities/user_123/connections", &w.app_headers()).await.json(), json!([]));

    // The browser that started it finishes it.
    let done = w.client.get(&callback, &[("cookie", victim.cookie.as_str())]).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(status(&w, &session_id).await, "awaiting_confirmation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_on_pages_are_pages_and_origins_are_origins() {
    let w = world().await;
    let c: &Client = &w.client;
    assert_person_page(&c.get("/connect/ses_does_not_exist", &[]).await, 404, "not-found");
    assert_person_page(&c.get("/oauth/callback", &[]).await, 400, "invalid-request");
    assert_person_page(&c.get("/oauth/callback?state=made-up&code=x", &[]).await, 404, "not-found");
    assert_person_page(&c.get("/oauth/callback?state=one&state=two", &[]).await, 400, "invalid-request");
    let open = open_page(c, "/device", None).await;
    let garbage = c
        .send(
            Method::POST,
            "/device",
            &[("cookie", open.cookie.as_str())],
            Some(b"%%%".to_vec()),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_person_page(&garbage, 400, "invalid-request");
    let wrong = open.post(c, "/device", &[("code", "BBBB-BBBB")]).await;
    assert_eq!(wrong.status, 404);
    assert!(wrong.headers["content-type"].to_str().unwrap().starts_with("text/html"));

    // The device page warns as RFC 8628 §5.4 asks; the consent page names the project.
    assert!(
        open.page.text.contains("Only enter a code that you got from a device in front of you"),
        "{}",
        open.page.text
    );

    // An allowed origin is an origin: a fragment could break out of the popup's script.
    let admin = [("securix-admin-token", ADMIN_TOKEN)];
    for bad in [
        "https://app.example#</script><script>alert(1)</script>",
        "https://app.example/path",
        "https://u:p@app.example",
    ] {
        let answer = c
            .json(
                Method::PUT,
                &format!("/v1/admin/projects/{}/origins", w.project_id),
                &admin,
                json!({"origins": [bad]}),
            )
            .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
    }
}
