//! Every page of the gateway and of the provider's usermap flow, visited in real headless Chromium
//! at desktop (1280 px) and phone (390 px) width, as a new user and an admin would meet them.
//! With `SCREENSHOTS_DIR` set, each page is also saved there as `<name>-desktop.png` and
//! `<name>-phone.png` (`scripts/screenshots.sh` regenerates `docs/screenshots/after/`).

use e2e::browser::Browser;
use e2e::process::{Gateway, NewUser};
use e2e::provider::ExplicitMappingProvider;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// The text of the element `id`, or null.
async fn text_of(browser: &mut Browser, id: &str) -> serde_json::Value {
    browser
        .eval(&format!(
            "(() => {{ const e = document.getElementById('{id}'); return e ? e.innerText : null; }})()"
        ))
        .await
}

/// Whether the page has an element `id`.
async fn has(browser: &mut Browser, id: &str) -> bool {
    browser
        .eval(&format!("document.getElementById('{id}') !== null"))
        .await
        == true
}

/// An error page: announced to screen readers, with a way back to `href`.
async fn assert_refusal(browser: &mut Browser, href: &str) {
    let announced = browser
        .eval("document.querySelector('[role=alert]') !== null")
        .await;
    assert_eq!(announced, true, "the error is announced");
    let back = browser
        .eval("(() => { const a = document.getElementById('back'); return a ? a.getAttribute('href') : null; })()")
        .await;
    assert_eq!(back, href, "the way back");
}

/// A form posted from the page without the session's CSRF token, as another site would post it.
const FORGED_FORM: &str = "(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/tokens/new'; \
    for (const [k, v] of [['csrf', 'forged'], ['name', 'x']]) { const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); } \
    document.body.appendChild(f); f.submit(); return true; })()";

#[tokio::test]
async fn every_page_is_visited_at_desktop_and_phone_width() {
    let gateway = Gateway::new(None);
    let alice = gateway.create_user_with_token(
        &NewUser::new("alice", "alice@example.org", "Alice", "Smith")
            .password("alice-password")
            .admin(),
    );
    gateway.create_user(
        &NewUser::new("bob", "bob@example.org", "Bob", "Jones").password("bob-password"),
    );
    let _server = gateway.serve().await;
    let provider =
        ExplicitMappingProvider::start(&gateway, &alice, "hpc", &[("asmith", "local-secret")])
            .await;
    let http = reqwest::Client::new();
    for metadata in [
        // Active at once, but nothing serves its manifest.
        json!({ "id": "nomanifest", "domain": "127.0.0.1", "https": false, "port": 9, "env": "test" }),
        // A production provider waits for an admin.
        json!({ "id": "cloud", "domain": "cloud.example.org", "https": true, "env": "production" }),
    ] {
        let r = http
            .post(gateway.url("/api/providers"))
            .bearer_auth(&alice)
            .json(&metadata)
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    }
    gateway.grant("alice", "hpc", 500);

    let mut browser = Browser::launch().await;
    browser.goto(&gateway.url("/providers")).await;
    browser
        .wait_for("location.pathname === '/login'", WAIT)
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('header .brand').innerText")
            .await,
        "Research Federation"
    );
    assert_eq!(
        browser.eval("document.querySelector('h1').innerText").await,
        "Sign in"
    );
    browser.look("login").await;
    browser.sign_in("alice", "wrong-password").await;
    browser
        .wait_for(
            "document.body.innerText.includes('Wrong username or password')",
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('[role=alert]').innerText")
            .await,
        "Wrong username or password."
    );
    browser.look("login-error").await;

    browser.sign_in("alice", "alice-password").await;
    browser
        .wait_for("document.getElementById('connect-hpc') !== null", WAIT)
        .await;
    // No Connect for the provider without a manifest: the page says why instead.
    assert!(!has(&mut browser, "connect-nomanifest").await);
    let why = text_of(&mut browser, "why-not-nomanifest").await;
    assert!(
        why.as_str().unwrap_or_default().contains("valid manifest"),
        "{why}"
    );
    browser.look("providers").await;

    browser.click("#connect-hpc").await;
    browser
        .wait_for("document.getElementById('connect') !== null", WAIT)
        .await;
    browser.look("connect").await;
    browser.click("#connect").await;
    browser
        .wait_for(
            &format!(
                "location.port === '{}' && document.getElementById('password') !== null",
                provider.port
            ),
            WAIT,
        )
        .await;
    browser.look("provider-login").await;
    browser
        .sign_in_at_provider(provider.port, "asmith", "local-secret")
        .await;
    browser.look("provider-confirm").await;
    browser.click("#confirm").await;
    browser
        .wait_for(
            "location.pathname === '/connections' && document.getElementById('connected') !== null",
            WAIT,
        )
        .await;
    browser.look("connections").await;

    // The provider's own error page: its confirm step with no attempt in this browser.
    browser
        .goto(&format!(
            "http://127.0.0.1:{}/ucloud/hpc/usermap/confirm",
            provider.port
        ))
        .await;
    assert_refusal(&mut browser, &gateway.url("/connections")).await;
    browser.look("provider-error").await;

    browser.goto(&gateway.url("/tokens")).await;
    browser.look("tokens").await;
    browser.fill("input[name=name]", "laptop").await;
    browser.click("form[action='/tokens/new'] button").await;
    browser
        .wait_for("document.getElementById('new-token') !== null", WAIT)
        .await;
    browser.look("token-created").await;
    browser.eval(FORGED_FORM).await;
    browser
        .wait_for("document.body.innerText.includes('no longer valid')", WAIT)
        .await;
    assert_refusal(&mut browser, "/tokens").await;
    browser.look("form-expired").await;
    browser.goto(&gateway.url("/tokens")).await;
    browser.click("a[id^=delete-]").await;
    browser
        .wait_for("document.getElementById('confirm-delete') !== null", WAIT)
        .await;
    browser.look("token-delete").await;

    browser.goto(&gateway.url("/wallets")).await;
    browser.look("wallets").await;

    // "Why can't I use this?": every check passes for the connected provider; the production one
    // still waiting for approval is refused, with no way out the user can take.
    browser.goto(&gateway.url("/providers/hpc/access")).await;
    assert!(
        text_of(&mut browser, "verdict")
            .await
            .as_str()
            .unwrap_or_default()
            .starts_with("You can use hpc"),
    );
    browser.look("access").await;
    browser.goto(&gateway.url("/providers/cloud/access")).await;
    let refused = browser.ids("tr.failed").await;
    assert_eq!(
        refused, "check-provider",
        "only the provider's approval is missing"
    );
    let skipped = browser.ids("tr.skipped").await;
    assert_eq!(
        skipped, "check-connection check-twoFactor check-assurance",
        "what the provider's manifest decides is not checked without it"
    );
    assert_refusal(&mut browser, "/providers").await;
    browser.look("access-refused").await;

    browser.goto(&gateway.url("/account")).await;
    assert_eq!(text_of(&mut browser, "username").await, "alice");
    assert!(has(&mut browser, "complete-notice").await);
    browser.look("account").await;
    browser.goto(&gateway.url("/account/identities")).await;
    assert!(
        browser
            .eval("document.body.innerText.includes('No identity is linked to this account.')")
            .await
            == true
    );
    browser.look("identities").await;
    browser
        .goto(&gateway.url("/account/identities/nothing/unlink"))
        .await;
    assert_refusal(&mut browser, "/account/identities").await;
    browser.look("identity-missing").await;
    browser.goto(&gateway.url("/agreements")).await;
    assert!(has(&mut browser, "accepted").await);
    browser.look("agreements").await;
    browser.goto(&gateway.url("/api/docs")).await;
    assert!(
        browser
            .eval("document.querySelector('h1').innerText.endsWith('API reference')")
            .await
            == true
    );
    browser.look("api-reference").await;
    browser.goto(&gateway.url("/admin/providers")).await;
    let owner = text_of(&mut browser, "owner-cloud").await;
    assert!(
        owner.as_str().unwrap_or_default().starts_with("alice"),
        "{owner}"
    );
    assert!(has(&mut browser, "reject-cloud").await);
    browser.look("approvals").await;

    browser
        .goto(&gateway.url("/connections/new?provider=nomanifest"))
        .await;
    assert_refusal(&mut browser, "/providers").await;
    assert!(!has(&mut browser, "connect").await);
    browser.look("connect-no-manifest").await;

    browser
        .goto(&gateway.url("/connections/nothing/complete?nonce=x"))
        .await;
    assert_refusal(&mut browser, "/connections").await;
    browser.look("connection-refused").await;
    browser.goto(&gateway.url("/auth/oidc/nowhere/start")).await;
    assert_refusal(&mut browser, "/login").await;
    browser.look("sign-in-failed").await;

    // A user who is not an admin.
    browser.goto(&gateway.url("/providers")).await;
    browser.click("form[action='/logout'] button").await;
    browser
        .wait_for("location.pathname === '/login'", WAIT)
        .await;
    browser.sign_in("bob", "bob-password").await;
    browser
        .wait_for("location.pathname === '/providers'", WAIT)
        .await;
    browser.goto(&gateway.url("/admin/providers")).await;
    assert_refusal(&mut browser, "/providers").await;
    browser.look("approvals-not-admin").await;
}
