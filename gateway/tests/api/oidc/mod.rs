//! Federated sign-in (SPEC §8) against a real OpenID Provider on loopback (`test_idp`), driven
//! headless: the "browser" is a client that follows no redirect and carries its cookies by hand.

mod attacks;
mod linking;
mod sign_in;
pub mod test_idp;

use crate::support::{Backend, START_MS, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_idp::{Account, TestIdp};

/// A gateway with the test IdP configured as `test`.
pub async fn spawn(backend: Backend, auto_activate: bool) -> (TestApp, TestIdp) {
    let idp = TestIdp::start(START_MS / 1000).await;
    let dir = std::env::temp_dir().join(format!("gw-oidc-{}", gateway::secrets::random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = idp.config("test", &dir);
    let app = TestApp::spawn_with(backend, |c| {
        c.identity_providers = vec![config];
        c.accounts.auto_activate = auto_activate;
    })
    .await;
    (app, idp)
}

/// Ada: two factors, an organization, assurance, a verified email, a site username.
pub fn ada() -> Account {
    Account {
        id_token: json!({"sub": "ada-1", "amr": ["pwd", "mfa"]}),
        userinfo: json!({"given_name": "Ada", "family_name": "Lovelace", "email": "ada@uni-a.example",
            "email_verified": true, "schac_home_organization": "uni-a.example",
            "eduperson_assurance": ["https://refeds.org/assurance/IAP/medium"], "uid": "alovelace"}),
    }
}

/// Bob: another organization, a password only, no assurance, an unverified email.
pub fn bob() -> Account {
    Account {
        id_token: json!({"sub": "bob-7", "amr": ["pwd"]}),
        userinfo: json!({"given_name": "Bob", "family_name": "Ørsted", "email": "bob@uni-b.example",
            "email_verified": false, "schac_home_organization": "uni-b.example"}),
    }
}

/// What the browser saw at the end of a sign-in.
pub struct Outcome {
    pub status: StatusCode,
    pub location: Option<String>,
    /// `gw_session=…` when the gateway set a session.
    pub session: Option<String>,
    pub body: String,
    /// The callback URL the IdP sent the browser to, for replays.
    pub callback: String,
    pub oidc_cookie: String,
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
}

/// `/auth/oidc/test/start` → the IdP → back, up to the redirect after the callback.
pub async fn start_at_idp(app: &TestApp, next: &str) -> (String, String) {
    let http = no_redirects();
    let r = http
        .get(app.url(&format!("/auth/oidc/test/start?next={next}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "start");
    let to_idp = r.headers()["location"].to_str().unwrap().to_owned();
    let cookie = set_cookie(&r, "gw_oidc").expect("the start sets the attempt's cookie");
    let r = http.get(&to_idp).send().await.unwrap();
    assert!(
        r.status().is_redirection(),
        "the IdP answers with a redirect"
    );
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    (callback, cookie)
}

/// The browser arriving at `callback` with `cookie` (or none).
pub async fn arrive(
    callback: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let mut req = no_redirects().get(callback);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let session = set_cookie(&r, "gw_session");
    (status, location, session, r.text().await.unwrap())
}

pub async fn sign_in(app: &TestApp, idp: &TestIdp, account: Account) -> Outcome {
    idp.sign_in_next(account);
    let (callback, oidc_cookie) = start_at_idp(app, "/connections").await;
    let (status, location, session, body) = arrive(&callback, Some(&oidc_cookie)).await;
    Outcome {
        status,
        location,
        session,
        body,
        callback,
        oidc_cookie,
    }
}

pub async fn me(app: &TestApp, session: &str) -> Value {
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["principal"].clone()
}

/// A cookie-authenticated call from the gateway's own pages (the Origin rule).
pub async fn as_browser(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    session: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("cookie", session)
        .header("origin", &app.url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    crate::support::read(req.send().await.unwrap()).await
}

/// `POST /api/me/identities` with `session`; the IdP then signs `account` in, and the browser
/// comes back to the callback carrying `back` (a cookie header, or none). Returns what the
/// browser saw at the callback: status, location, a new session cookie, the page.
pub async fn link(
    app: &TestApp,
    idp: &TestIdp,
    session: &str,
    account: Account,
    back: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let (status, started) = as_browser(
        app,
        reqwest::Method::POST,
        "/api/me/identities",
        session,
        Some(json!({ "identityProvider": "test" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let to_idp = started["redirect"].as_str().unwrap().to_owned();
    idp.sign_in_next(account);
    let r = no_redirects().get(&to_idp).send().await.unwrap();
    assert!(
        r.status().is_redirection(),
        "the IdP answers with a redirect"
    );
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    arrive(&callback, back).await
}

pub async fn identities(app: &TestApp, session: &str) -> Vec<Value> {
    let (status, list) = as_browser(
        app,
        reqwest::Method::GET,
        "/api/me/identities",
        session,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().clone()
}

/// Ada's second identity at the same IdP: another subject, fewer claims released.
pub fn ada_elsewhere() -> Account {
    Account {
        id_token: json!({"sub": "ada-2", "amr": ["pwd"]}),
        userinfo: json!({"given_name": "Ada", "family_name": "Lovelace", "email": "ada@uni-c.example",
            "email_verified": true}),
    }
}
