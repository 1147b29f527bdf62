//! The web pages as a browser receives them (both backends): one layout with the federation's
//! name and a viewport, a stylesheet served with immutable caching under a strict CSP (no inline
//! style or script), sign-in redirects, 403 pages that say why and lead back, Connect refused
//! without a valid manifest, token deletion behind a confirmation, and Reject on the approvals
//! page (audited, with the same action over the API).

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    async fn signed_in(app: &'a TestApp, username: Option<&str>) -> Self {
        let cookie = match username {
            Some(u) => Some(app.session_cookie(u).await),
            None => None,
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { app, http, cookie }
    }

    async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut r = self.http.get(self.app.url(path));
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        let r = r.send().await.unwrap();
        (r.status(), r.headers().clone(), r.text().await.unwrap())
    }

    /// Posts a form from the gateway's own origin, as the gateway's pages do.
    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut r = self
            .http
            .post(self.app.url(path))
            .header("origin", &self.app.url)
            .form(form);
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        let r = r.send().await.unwrap();
        (r.status(), r.headers().clone(), r.text().await.unwrap())
    }
}

/// The value of the first hidden `csrf` field on a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field")
        + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

async fn every_page_has_the_one_layout_under_a_strict_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::signed_in(&app, None).await;
    let (status, headers, html) = browser.get("/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
        "{html}"
    );
    assert!(
        html.contains("Research Federation"),
        "the federation's name: {html}"
    );
    assert!(!html.contains("<style"), "no inline style: {html}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");

    let href = html
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet link")
        .to_owned();
    assert!(href.starts_with("/assets/style.css?v="), "{href}");
    let (status, headers, css) = browser.get(&href).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(css.contains("header.top"), "{css}");
    let (status, headers, _) = browser.get("/assets/nothing.css").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/problem+json");
    app.stop().await;
}
on_both_backends!(
    one_layout,
    every_page_has_the_one_layout_under_a_strict_policy
);

async fn refusals_are_pages_that_say_why_and_lead_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", false).await;

    // Signed out: to the sign-in page, coming back here afterwards.
    let (status, headers, _) = Browser::signed_in(&app, None).await.get("/tokens").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/login?next=%2Ftokens");

    // Not an admin: a 403 page, announced, with the way back.
    let alice = Browser::signed_in(&app, Some("alice")).await;
    let (status, _, html) = alice.get("/admin/providers").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("role=\"alert\"") && html.contains("Only an administrator"),
        "{html}"
    );
    assert!(html.contains("href=\"/providers\""), "{html}");

    // A form without the session's CSRF token: a 403 page leading back where it came from.
    let (status, _, html) = alice
        .post("/tokens/new", &[("csrf", "forged"), ("name", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("role=\"alert\"") && html.contains("no longer valid"),
        "{html}"
    );
    assert!(html.contains("id=\"back\""), "{html}");
    let (_, _, tokens) = alice.get("/tokens").await;
    assert_eq!(
        tokens.matches("/delete\"").count(),
        1,
        "only the test's own token: {tokens}"
    );
    app.stop().await;
}
on_both_backends!(refusals, refusals_are_pages_that_say_why_and_lead_back);

async fn deleting_a_token_asks_for_confirmation_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    let alice = Browser::signed_in(&app, Some("alice")).await;
    let (_, _, html) = alice.get("/tokens").await;
    let delete = html
        .split("href=\"/tokens/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a delete link")
        .to_owned();
    assert!(html.contains("<time datetime=\""), "{html}");
    assert!(html.contains(" UTC</time>"), "human-readable times: {html}");

    // The link only asks; the token still works.
    let (status, _, confirm) = alice.get(&format!("/tokens/{delete}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        confirm.contains("Delete this token?") && confirm.contains("tests"),
        "{confirm}"
    );
    assert_eq!(app.get(&token, "/api/me").await.0, StatusCode::OK);

    let (status, headers, _) = alice
        .post(
            &format!("/tokens/{delete}"),
            &[("csrf", &csrf_of(&confirm))],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/tokens");
    assert_eq!(app.get(&token, "/api/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, _, gone) = alice.get(&format!("/tokens/{delete}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        gone.contains("role=\"alert\"") && gone.contains("href=\"/tokens\""),
        "{gone}"
    );
    app.stop().await;
}
on_both_backends!(token_delete, deleting_a_token_asks_for_confirmation_first);

async fn connect_is_not_offered_for_a_provider_without_a_valid_manifest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    let (status, body) = app.register(&token, "bare", "test").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alice = Browser::signed_in(&app, Some("alice")).await;

    let (_, _, html) = alice.get("/providers").await;
    assert!(!html.contains("id=\"connect-bare\""), "{html}");
    assert!(
        html.contains("id=\"why-not-bare\"") && html.contains("valid manifest"),
        "{html}"
    );

    let (status, _, html) = alice.get("/connections/new?provider=bare").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("role=\"alert\"") && html.contains("valid manifest"),
        "{html}"
    );
    assert!(!html.contains("id=\"connect\""), "{html}");
    assert!(html.contains("href=\"/providers\""), "{html}");

    let (_, _, tokens) = alice.get("/tokens").await;
    let (status, _, html) = alice
        .post(
            "/connections/new",
            &[("csrf", &csrf_of(&tokens)), ("provider", "bare")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains("valid manifest"), "{html}");
    app.stop().await;
}
on_both_backends!(
    no_manifest_no_connect,
    connect_is_not_offered_for_a_provider_without_a_valid_manifest
);

async fn an_admin_rejects_a_pending_provider_on_the_page_or_over_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    for id in ["hpc", "cloud"] {
        let (status, body) = app.register(&owner, id, "production").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let root = Browser::signed_in(&app, Some("root")).await;
    let (status, _, html) = root.get("/admin/providers").await;
    assert_eq!(status, StatusCode::OK);
    let owner_cell = html.split("id=\"owner-hpc\">").nth(1).unwrap_or_default();
    assert!(
        owner_cell.starts_with("owner ("),
        "the owner is shown: {html}"
    );
    assert!(html.contains("id=\"manifest-hpc\""), "{html}");
    assert!(html.contains("id=\"reject-hpc\""), "{html}");

    let (status, headers, _) = root
        .post("/admin/providers/hpc/reject", &[("csrf", &csrf_of(&html))])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/admin/providers");
    let (_, seen) = app.get(&admin, "/api/providers/hpc").await;
    assert_eq!(seen["status"], "suspended");
    let (_, html) = (0, root.get("/admin/providers").await.2);
    assert!(
        !html.contains("id=\"reject-hpc\""),
        "no longer waiting: {html}"
    );

    let (status, body) = app
        .post(&owner, "/api/admin/providers/cloud/reject", json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .post(&admin, "/api/admin/providers/cloud/reject", json!({}))
        .await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("suspended"))
    );
    let (status, body) = app
        .post(&admin, "/api/admin/providers/cloud/reject", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "invalidTransition");

    let (_, audit) = app.get(&admin, "/api/admin/audit").await;
    let rejected = audit.to_string().matches("provider.rejected").count();
    assert_eq!(rejected, 2, "{audit}");
    app.stop().await;
}
on_both_backends!(
    reject,
    an_admin_rejects_a_pending_provider_on_the_page_or_over_the_api
);
