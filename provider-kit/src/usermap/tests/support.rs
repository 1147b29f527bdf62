//! Test helpers: a throwaway SQLite store, a recording gateway double, principals, and a provider
//! serving the usermap flow on 127.0.0.1:0 next to a stub gateway that records mapping reports.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};

use crate::auth::ManualClock;
use crate::auth::tests::kit::{self, Harness};
use crate::client::{ClientConfig, ClientError, GatewayClient};
use crate::protocol::{Manifest, MappingReport, MappingReportAnswer, Principal, TYP_USERMAP};
use crate::router::{ManifestSource, ProviderRouter};
use crate::usermap::{
    Accounts, AccountsConfig, FileAuthenticator, FlowSettings, MappingReporter, MappingStore,
    ReportFuture, UsermapFlow, hash_password, router,
};

/// A file that is removed, with its SQLite companions, when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(extension: &str) -> Self {
        let random: String = crate::usermap::local_auth::random::<8>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(std::env::temp_dir().join(format!("pk-usermap-{random}.{extension}")))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

pub async fn store() -> (MappingStore, TempFile) {
    let file = TempFile::new("db");
    let store = MappingStore::open(&file.0).await.expect("store opens");
    (store, file)
}

/// A gateway double that records every report, and fails while told to.
#[derive(Default)]
pub struct RecordingGateway {
    pub reports: Mutex<Vec<MappingReport>>,
    pub failing: AtomicBool,
}

impl RecordingGateway {
    pub fn reports(&self) -> Vec<MappingReport> {
        self.reports.lock().expect("reports").clone()
    }
}

impl MappingReporter for RecordingGateway {
    fn report<'a>(&'a self, report: &'a MappingReport) -> ReportFuture<'a> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err(ClientError::Transport("connection refused".into()));
            }
            self.reports.lock().expect("reports").push(report.clone());
            Ok(MappingReportAnswer {
                completion_code: report.nonce.as_ref().map(|n| format!("code-{n}")),
            })
        })
    }
}

pub fn principal(username: &str, first: &str, last: &str, email: &str) -> Principal {
    Principal {
        username: username.into(),
        role: "USER".into(),
        first_name: first.into(),
        last_name: last.into(),
        uid: 0,
        email: email.into(),
        two_factor_authentication: false,
        organization: None,
        assurance: Vec::new(),
        identity_provider: None,
        site_username: None,
    }
}

/// Accounts on a fresh store with `config`, reporting to a `RecordingGateway`.
pub struct AccountsFixture {
    pub accounts: Accounts,
    pub gateway: Arc<RecordingGateway>,
    _file: TempFile,
}

pub async fn accounts(config: AccountsConfig) -> AccountsFixture {
    let (store, file) = store().await;
    let gateway = Arc::new(RecordingGateway::default());
    let clock = Arc::new(ManualClock::new(kit::NOW));
    let accounts = Accounts::new(config, store, clock, gateway.clone()).expect("valid config");
    AccountsFixture {
        accounts,
        gateway,
        _file: file,
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"))
}

/// What the stub gateway received on `POST /api/providers/usermap/{id}`.
#[derive(Default)]
pub struct StubGateway {
    pub reports: Mutex<Vec<(Option<String>, Value)>>,
    pub failing: AtomicBool,
}

async fn token(_: State<Arc<StubGateway>>) -> impl IntoResponse {
    axum::Json(json!({"access_token": "at-test", "token_type": "Bearer", "expires_in": 600}))
}

/// Answers a report with a nonce as the gateway does: `{"completionCode": "code-<nonce>"}`.
async fn report(
    State(stub): State<Arc<StubGateway>>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> axum::response::Response {
    if stub.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let code = body.0["nonce"].as_str().map(|n| format!("code-{n}"));
    stub.reports.lock().expect("reports").push((auth, body.0));
    match code {
        Some(code) => axum::Json(json!({ "completionCode": code })).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve(router: Router) -> (String, AbortOnDrop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });
    (base, AbortOnDrop(task))
}

/// A provider serving the usermap flow, the gateway it reports to, and a browser without
/// redirects or a cookie jar (tests carry cookies by hand to play different browsers).
pub struct FlowApp {
    pub harness: Harness,
    pub gateway: Arc<StubGateway>,
    pub flow: UsermapFlow,
    pub base: String,
    pub browser: reqwest::Client,
    _tasks: Vec<AbortOnDrop>,
    _files: Vec<TempFile>,
}

pub const LOGIN_PATH: &str = "/ucloud/myprovider/usermap/login";
pub const CONFIRM_PATH: &str = "/ucloud/myprovider/usermap/confirm";
pub const RETURN_URL: &str = "https://gateway.test/connections/c1/complete";

pub async fn flow_app() -> FlowApp {
    let harness = kit::harness().await;
    let stub = Arc::new(StubGateway::default());
    let gateway_router = Router::new()
        .route("/oauth/token", post(token))
        .route("/api/providers/usermap/myprovider", post(report))
        .with_state(Arc::clone(&stub));
    let (gateway_base, gateway_task) = serve(gateway_router).await;
    let client = GatewayClient::new(
        ClientConfig::new(gateway_base, kit::PROVIDER, "rt_test"),
        harness.clock.clone(),
    )
    .expect("client");
    let (store, db) = store().await;
    let accounts = Accounts::new(
        AccountsConfig::default(),
        store,
        harness.clock.clone(),
        Arc::new(client),
    )
    .expect("config");
    let users = TempFile::new("yaml");
    let file = format!(
        "users:\n  - username: alice\n    password_hash: \"{h}\"\n  - username: bob\n    password_hash: \"{h}\"\n",
        h = password_hash()
    );
    std::fs::write(&users.0, file).expect("users file");
    let authenticator = Arc::new(FileAuthenticator::new(&users.0).expect("users"));
    let flow = UsermapFlow::new(
        harness.verifier.clone(),
        accounts,
        authenticator,
        FlowSettings::new("Test provider"),
    );
    let provider = ProviderRouter::new(
        harness.verifier.clone(),
        ManifestSource::value(Manifest::default()),
    )
    .usermap(router(flow.clone()))
    .build(Router::new().route("/storage/ping", axum::routing::get(|| async { "pong" })));
    let (base, provider_task) = serve(provider).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    FlowApp {
        harness,
        gateway: stub,
        flow,
        base,
        browser,
        _tasks: vec![gateway_task, provider_task],
        _files: vec![db, users],
    }
}

/// A usermap token as the gateway signs it, with `claims` changed by `edit`.
pub fn usermap_token(nonce: &str, edit: impl FnOnce(Value) -> Value) -> String {
    let claims = kit::with(kit::usermap_claims(), "nonce", json!(nonce));
    let claims = kit::with(claims, "jti", json!(format!("jti-{nonce}")));
    kit::gateway_key().sign(
        &kit::header(TYP_USERMAP, kit::gateway_key().kid),
        &edit(claims),
    )
}

/// One answer, read whole.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("ASCII").to_owned())
        };
        let (location, set_cookie) = (header("location"), header("set-cookie"));
        Self {
            status: response.status().as_u16(),
            location,
            set_cookie,
            body: response.text().await.expect("body"),
        }
    }

    /// `name=value` of the attempt cookie this answer set.
    pub fn cookie(&self) -> String {
        let set = self.set_cookie.as_deref().expect("a Set-Cookie");
        set.split(';').next().expect("name=value").to_owned()
    }

    /// The CSRF token of a login page.
    pub fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a CSRF field")
            + 19;
        let end = self.body[start..].find('"').expect("closing quote");
        self.body[start..start + end].to_owned()
    }
}

impl FlowApp {
    /// The gateway's auto-submitting form arriving at the provider (SPEC §4 step 2).
    pub async fn start(&self, fields: &[(&str, &str)]) -> Answer {
        let url = format!("{}/ucloud/myprovider/usermap", self.base);
        Answer::read(
            self.browser
                .post(url)
                .form(fields)
                .send()
                .await
                .expect("answer"),
        )
        .await
    }

    pub async fn login_page(&self, cookie: Option<&str>) -> Answer {
        let mut request = self.browser.get(format!("{}{LOGIN_PATH}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        Answer::read(request.send().await.expect("answer")).await
    }

    pub async fn submit(
        &self,
        cookie: Option<&str>,
        csrf: &str,
        username: &str,
        password: &str,
    ) -> Answer {
        let mut request = self
            .browser
            .post(format!("{}{LOGIN_PATH}", self.base))
            .form(&[
                ("csrf", csrf),
                ("username", username),
                ("password", password),
            ]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        Answer::read(request.send().await.expect("answer")).await
    }

    pub async fn confirm_page(&self, cookie: Option<&str>) -> Answer {
        let mut request = self.browser.get(format!("{}{CONFIRM_PATH}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        Answer::read(request.send().await.expect("answer")).await
    }

    /// The user's click on the confirm page.
    pub async fn confirm(&self, cookie: Option<&str>, csrf: &str) -> Answer {
        let mut request = self
            .browser
            .post(format!("{}{CONFIRM_PATH}", self.base))
            .form(&[("csrf", csrf)]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        Answer::read(request.send().await.expect("answer")).await
    }

    /// Signs in at the login form (checking the `303` to the confirm page) and returns the confirm
    /// page, whose CSRF token the click needs.
    pub async fn sign_in(&self, cookie: &str, csrf: &str, username: &str) -> Answer {
        let signed_in = self.submit(Some(cookie), csrf, username, PASSWORD).await;
        assert_eq!(signed_in.status, 303, "{}", signed_in.body);
        assert_eq!(signed_in.location.as_deref(), Some(CONFIRM_PATH));
        let page = self.confirm_page(Some(cookie)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page
    }

    /// The whole local half: sign in, then confirm; the answer to the click.
    pub async fn sign_in_and_confirm(&self, cookie: &str, csrf: &str, username: &str) -> Answer {
        let page = self.sign_in(cookie, csrf, username).await;
        self.confirm(Some(cookie), &page.csrf()).await
    }

    /// Steps 2–3 up to the filled-in login page: the browser's cookie and the page's CSRF token.
    pub async fn begin(&self, nonce: &str) -> (String, String) {
        let started = self.start(&[("token", &usermap_token(nonce, |c| c))]).await;
        assert_eq!(started.status, 302, "{}", started.body);
        let cookie = started.cookie();
        let page = self.login_page(Some(&cookie)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        (cookie, page.csrf())
    }

    pub fn reports(&self) -> Vec<(Option<String>, Value)> {
        self.gateway.reports.lock().expect("reports").clone()
    }

    pub async fn mapping_of(&self, username: &str) -> Option<crate::usermap::Mapping> {
        self.flow
            .accounts()
            .store()
            .mapping(username)
            .await
            .expect("store")
    }
}
