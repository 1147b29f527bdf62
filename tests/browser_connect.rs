//! The connection flow as a person does it, in real headless Chromium: sign in at the gateway, click
//! Connect, sign in at the dev provider with a local account, confirm who is being linked, land back
//! on the gateway with the connection `ok` — then a brokered request reaches the provider as that user, under that account.

use e2e::browser::Browser;
use e2e::process::{Gateway, NewUser};
use e2e::provider::ExplicitMappingProvider;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn a_user_connects_their_account_in_the_browser_and_is_brokered_as_it() {
    let gateway = Gateway::new(None);
    let alice = gateway.create_user_with_token(
        &NewUser::new("alice", "alice@example.org", "Alice", "Smith")
            .password("alice-gateway-password"),
    );
    let _server = gateway.serve().await;

    // The provider: registered with alice's token, one local account `asmith`.
    let provider =
        ExplicitMappingProvider::start(&gateway, &alice, "hpc", &[("asmith", "local-secret")])
            .await;

    let http = reqwest::Client::new();
    let put = |name: &'static str| {
        http.put(gateway.url(&format!("/ucloud/hpc/storage/files/{name}")))
            .bearer_auth(&alice)
            .body("hello")
            .send()
    };
    let before = put("early.txt").await.expect("put");
    assert_eq!(before.status(), 403, "not connected yet");
    let problem: Value = before.json().await.expect("problem");
    assert_eq!(problem["code"], "connectionRequired");

    // In the browser: sign in at the gateway, connect, sign in at the provider.
    let mut browser = Browser::launch().await;
    browser.goto(&gateway.url("/providers")).await;
    browser
        .wait_for("location.pathname === '/login'", Duration::from_secs(10))
        .await;
    browser.sign_in("alice", "alice-gateway-password").await;
    browser
        .wait_for(
            "document.getElementById('connect-hpc') !== null",
            Duration::from_secs(10),
        )
        .await;
    browser.click("#connect-hpc").await;
    browser
        .wait_for(
            "document.getElementById('connect') !== null",
            Duration::from_secs(10),
        )
        .await;
    browser.click("#connect").await;
    // The auto-submitting form takes the browser to the provider's own sign-in page; there the
    // provider shows who is being linked to which local account; nothing happens before the click.
    browser
        .sign_in_at_provider(provider.port, "asmith", "local-secret")
        .await;
    let shown = browser
        .eval("document.getElementById('gateway-username').innerText + ' ' + document.getElementById('local-account').innerText")
        .await;
    assert_eq!(shown, "alice asmith");
    browser.click("#confirm").await;
    browser
        .wait_for(
            "location.pathname === '/connections' && document.getElementById('connected') !== null",
            Duration::from_secs(15),
        )
        .await;
    let state = browser
        .eval("document.getElementById('state-hpc').innerText")
        .await;
    assert_eq!(state, "ok");
    let shot = std::env::temp_dir().join("gateway-connected.png");
    browser.screenshot(&shot).await;

    // The gateway agrees, and alice is now brokered as `asmith`.
    let connections = gateway.connections(&alice).await;
    assert_eq!(connections[0]["state"], "ok");
    assert_eq!(connections[0]["localIdentity"], "asmith");
    let after = put("hello.txt").await.expect("put");
    assert!(
        after.status().is_success(),
        "{}",
        after.text().await.unwrap_or_default()
    );
    assert_eq!(
        std::fs::read_to_string(provider.data.join("storage/asmith/hello.txt"))
            .expect("stored under the local account"),
        "hello"
    );

    // The browser's own session is brokered too.
    browser
        .goto(&gateway.url("/ucloud/hpc/storage/files"))
        .await;
    browser
        .wait_for(
            "document.body.innerText.includes('hello.txt')",
            Duration::from_secs(10),
        )
        .await;

    // Balances and charges are on the wallets page.
    gateway.grant("alice", "hpc", 500);
    browser.goto(&gateway.url("/wallets")).await;
    browser
        .wait_for(
            "document.getElementById('balance-hpc').innerText === '500'",
            Duration::from_secs(10),
        )
        .await;
}
