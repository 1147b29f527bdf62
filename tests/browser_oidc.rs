//! Federated sign-in in real headless Chromium against a real OpenID Provider (`oidc-provider`,
//! `tests/oidc/idp.mjs`, installed by `scripts/test`): `/login` → the IdP's login page → consent →
//! back on the gateway: first "awaits approval", then (after `gateway users approve`) signed in on the
//! providers page, with the principal the IdP's claims gave.

use e2e::browser::Browser;
use e2e::process::Gateway;
use e2e::{free_port, wait_for};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The node IdP, stopped when the test ends.
struct NodeIdp(Child);

impl Drop for NodeIdp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_idp(port: u16, redirect_uri: &str) -> NodeIdp {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "run `npm ci` in {} (scripts/test does)",
        dir.display()
    );
    let child = Command::new("node")
        .arg(dir.join("idp.mjs"))
        .arg(port.to_string())
        .arg(redirect_uri)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is needed for this test");
    let idp = NodeIdp(child);
    let url = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
    wait_for("the IdP's discovery", Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            reqwest::get(&url)
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        }
    })
    .await;
    idp
}

/// From the gateway's `/login` through the IdP (its login and consent pages, when it shows them)
/// until the browser is back on the gateway.
async fn sign_in_at_idp(browser: &mut Browser, gateway: &Gateway, idp_port: u16) {
    browser.goto(&gateway.url("/login?next=/providers")).await;
    browser
        .wait_for(
            "document.getElementById('idp-uni') !== null",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('idp-uni').innerText")
            .await,
        "Sign in with University A"
    );
    browser.click("#idp-uni").await;
    let back = format!(
        "location.port === '{}' && location.pathname !== '/login'",
        gateway.port
    );
    let at_idp = format!("location.port === '{idp_port}' && document.readyState === 'complete'");
    for _ in 0..4 {
        browser
            .wait_for(&format!("({back}) || (({at_idp}) && document.querySelector('button[type=submit]') !== null)"), Duration::from_secs(20))
            .await;
        if browser.eval(&back).await == true {
            return;
        }
        if browser
            .eval("document.querySelector('input[name=login]') !== null")
            .await
            == true
        {
            browser.fill("input[name=login]", "ada").await;
            browser.fill("input[name=password]", "anything").await;
        }
        let before = browser
            .eval("location.href + document.body.innerText")
            .await;
        browser.click("button[type=submit]").await;
        browser
            .wait_for(
                &format!(
                    "location.href + (document.body ? document.body.innerText : '') !== {before}"
                ),
                Duration::from_secs(20),
            )
            .await;
    }
    browser.wait_for(&back, Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_user_signs_in_with_their_institution_in_the_browser_and_lands_on_the_providers_page() {
    let mut gateway = Gateway::new(None);
    let idp_port = free_port();
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let _idp = start_idp(idp_port, &gateway.url("/auth/oidc/uni/callback")).await;
    let secret = gateway.data.0.join("uni-secret");
    std::fs::write(&secret, "client-s3cret\n").unwrap();
    let idps = serde_json::json!([{
        "id": "uni", "display_name": "University A", "issuer": issuer,
        "client_id": "gateway", "client_secret_file": secret,
    }]);
    gateway
        .envs
        .push(("GATEWAY_IDENTITY_PROVIDERS".into(), idps.to_string()));
    let _server = gateway.serve().await;
    let mut browser = Browser::launch().await;

    // New people wait for an operator (accounts.auto_activate is false by default).
    sign_in_at_idp(&mut browser, &gateway, idp_port).await;
    let page = browser.eval("document.body.innerText").await;
    assert!(
        page.as_str()
            .unwrap()
            .contains("awaits approval by an administrator"),
        "{page}"
    );
    let pending = gateway.run(&["users", "list", "--pending"], "");
    let username = pending.trim().to_owned();
    assert!(username.starts_with("AdaLovelace#"), "{pending}");
    let approved = gateway.run(&["users", "approve", &username], "");
    assert!(approved.contains("active"), "{approved}");
    assert_eq!(gateway.run(&["users", "list", "--pending"], "").trim(), "");

    // Approved: the same sign-in now lands on the providers page, signed in.
    sign_in_at_idp(&mut browser, &gateway, idp_port).await;
    browser
        .wait_for(
            "location.pathname === '/providers'",
            Duration::from_secs(20),
        )
        .await;
    let page = browser.eval("document.body.innerText").await;
    assert!(page.as_str().unwrap().contains(&username), "{page}");

    // The session the browser now holds carries the IdP's claims.
    // (The pages' CSP allows no fetch: open the API in the tab instead.)
    browser.goto(&gateway.url("/api/me")).await;
    let me = browser.eval("JSON.parse(document.body.innerText)").await;
    let p = &me["principal"];
    assert_eq!(p["username"], username.as_str());
    assert_eq!(p["organization"], "uni-a.example", "{me}");
    assert_eq!(p["identityProvider"], "uni");
    assert_eq!(p["email"], "ada@uni-a.example");
    assert_eq!(
        p["assurance"],
        serde_json::json!(["https://refeds.org/assurance/IAP/medium"])
    );
}
