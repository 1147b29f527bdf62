//! The gateway's web pages in real headless Chromium: sign in, see the providers, make an API
//! token — and a cross-site form is refused.

use e2e::browser::Browser;
use e2e::process::{Gateway, NewUser};
use std::time::Duration;

#[tokio::test]
async fn a_user_signs_in_and_makes_an_api_token_in_the_browser() {
    let gateway = Gateway::new(None);
    gateway.create_user(
        &NewUser::new("alice", "a@example.org", "Alice", "L").password("alice-password"),
    );
    let _server = gateway.serve().await;
    let mut browser = Browser::launch().await;

    browser.goto(&gateway.url("/tokens")).await;
    browser
        .wait_for("location.pathname === '/login'", Duration::from_secs(10))
        .await;
    browser.sign_in("alice", "wrong-password").await;
    browser
        .wait_for(
            "document.body.innerText.includes('Wrong username or password')",
            Duration::from_secs(10),
        )
        .await;

    browser.sign_in("alice", "alice-password").await;
    browser
        .wait_for("location.pathname === '/tokens'", Duration::from_secs(10))
        .await;
    browser.fill("input[name=name]", "laptop").await;
    browser.click("form[action='/tokens/new'] button").await;
    browser
        .wait_for(
            "document.getElementById('new-token') !== null",
            Duration::from_secs(10),
        )
        .await;
    let token = browser
        .eval("document.getElementById('new-token').innerText")
        .await;
    let token = token.as_str().unwrap().to_owned();
    let token = token.as_str();

    // The Copy button (the gateway's script file, allowed by CSP script-src 'self') copies it.
    let origin = gateway.url("");
    browser
        .call(
            "Browser.grantPermissions",
            serde_json::json!({ "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
        )
        .await;
    browser
        .call(
            "Emulation.setFocusEmulationEnabled",
            serde_json::json!({ "enabled": true }),
        )
        .await;
    browser.click("#copy-token").await;
    browser
        .wait_for(
            "document.getElementById('copy-token').innerText === 'Copied'",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(browser.eval("navigator.clipboard.readText()").await, token);

    // The token the page showed works for the API.
    let me: serde_json::Value = reqwest::Client::new()
        .get(gateway.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["principal"]["username"], "alice");

    // The session cookie is HttpOnly: page scripts cannot read it.
    assert_eq!(
        browser.eval("document.cookie.includes('gw_session')").await,
        false
    );

    // The pages' Content-Security-Policy forbids scripts from calling out at all.
    let blocked = browser
        .eval("fetch('/api/me').then(() => 'allowed', () => 'blocked')")
        .await;
    assert_eq!(blocked, "blocked");

    // A form without the session's CSRF token (as another site would post) is refused.
    browser
        .eval("(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/tokens/new'; \
               for (const [k, v] of [['csrf', 'forged'], ['name', 'x']]) { const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); } \
               document.body.appendChild(f); f.submit(); return true; })()")
        .await;
    browser
        .wait_for(
            "document.body.innerText.includes('This form is no longer valid')",
            Duration::from_secs(10),
        )
        .await;
    let listed: serde_json::Value = reqwest::Client::new()
        .get(gateway.url("/api/tokens"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "the forged form created nothing"
    );

    browser
        .wait_for(
            "document.querySelector('[role=alert]') !== null && document.getElementById('back') !== null",
            Duration::from_secs(10),
        )
        .await;

    // Deleting asks first: the confirmation page names the token; only its button deletes.
    browser.goto(&gateway.url("/tokens")).await;
    browser.click("a[id^=delete-]").await;
    browser
        .wait_for(
            "document.getElementById('confirm-delete') !== null",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('main p').innerText.includes('laptop')")
            .await,
        true
    );
    let me = |token: String| {
        let url = gateway.url("/api/me");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        me(token.to_owned()).await,
        200,
        "not deleted before the click"
    );
    browser.click("#confirm-delete").await;
    browser
        .wait_for(
            "location.pathname === '/tokens' && document.querySelector('a[id^=delete-]') === null",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(me(token.to_owned()).await, 401, "deleted after it");
}
