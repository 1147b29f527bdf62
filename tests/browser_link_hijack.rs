//! The link hijack (SPEC §4 ▲) in real headless Chromium: Mallory starts a connection at the gateway
//! and has its auto-submitting form opened in Alice's browser; Alice signs in at the dev provider with
//! her local account and confirms. Mallory then completes the attempt with his own session: refused,
//! the attempt ends, and Mallory is never brokered as Alice's local account.

use e2e::browser::Browser;
use e2e::cookie_set_by;
use e2e::process::{Gateway, NewUser};
use e2e::provider::ExplicitMappingProvider;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn an_initiator_cannot_complete_an_attempt_that_a_victim_signed_in_to() {
    let gateway = Gateway::new(None);
    let mallory_token = gateway.create_user_with_token(
        &NewUser::new("mallory", "mallory@example.org", "Mallory", "Evil")
            .password("mallory-gateway-password"),
    );
    let _server = gateway.serve().await;

    // The provider (registered by Mallory, so he can see it), with Alice's local account `asmith`.
    let provider = ExplicitMappingProvider::start(
        &gateway,
        &mallory_token,
        "hpc",
        &[("asmith", "alice-local-secret")],
    )
    .await;

    // Mallory, signed in at the gateway, starts a connection and keeps its form.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed_in = http
        .post(gateway.url("/auth/login"))
        .json(&serde_json::json!({"username": "mallory", "password": "mallory-gateway-password"}))
        .send()
        .await
        .expect("sign in");
    let mallory = cookie_set_by(&signed_in);
    let started: Value = http
        .post(gateway.url("/api/connections"))
        .header("cookie", &mallory)
        .header("origin", gateway.url(""))
        .json(&serde_json::json!({"provider": "hpc"}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let form_url = started["redirect"]["url"]
        .as_str()
        .expect("a URL")
        .to_owned();
    let form_token = started["redirect"]["fields"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let connection = started["connection"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // Alice's browser opens Mallory's form (a page of his, here any page that submits it).
    let mut browser = Browser::launch().await;
    browser
        .goto(&format!(
            "http://127.0.0.1:{}/ucloud/hpc/usermap/login",
            provider.port
        ))
        .await;
    let submit = format!(
        "(() => {{ const f = document.createElement('form'); f.method = 'post'; f.action = {}; \
         const i = document.createElement('input'); i.name = 'token'; i.value = {}; f.appendChild(i); \
         document.body.appendChild(f); f.submit(); return true; }})()",
        serde_json::to_string(&form_url).expect("json"),
        serde_json::to_string(&form_token).expect("json"),
    );
    browser.eval(&submit).await;
    browser
        .sign_in_at_provider(provider.port, "asmith", "alice-local-secret")
        .await;
    let shown = browser
        .eval("document.getElementById('gateway-username').innerText")
        .await;
    assert_eq!(
        shown, "mallory",
        "the confirm page names who is being linked"
    );
    browser.click("#confirm").await;
    // Back at the gateway, Alice's browser is not signed in there: nothing is completed.
    browser
        .wait_for(
            "location.pathname.endsWith('/complete') && document.body.innerText.includes('not signed in')",
            Duration::from_secs(15),
        )
        .await;

    // Mallory completes the attempt with his own session (he has the nonce from his token).
    let payload = form_token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64"),
    )
    .expect("claims");
    let nonce = claims["nonce"].as_str().expect("a nonce");
    let mut back =
        url::Url::parse(&gateway.url(&format!("/connections/{connection}/complete"))).expect("url");
    back.query_pairs_mut().append_pair("nonce", nonce);
    let hijack = http
        .get(back.as_str())
        .header("cookie", &mallory)
        .send()
        .await
        .expect("complete");
    assert_eq!(hijack.status(), 403, "the initiator is refused");

    let connections = gateway.connections(&mallory_token).await;
    assert_eq!(connections[0]["state"], "failed", "{connections}");
    let brokered = http
        .get(gateway.url("/ucloud/hpc/storage/files"))
        .bearer_auth(&mallory_token)
        .send()
        .await
        .expect("brokered");
    assert_eq!(brokered.status(), 403, "Mallory is not brokered as asmith");
    let problem: Value = brokered.json().await.expect("problem");
    assert_eq!(problem["code"], "connectionRequired");
}
