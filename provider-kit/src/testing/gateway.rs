//! A fake gateway on 127.0.0.1:0 that speaks the provider-facing half of SPEC §1, §2.1, §4 and §5:
//! registration, the OAuth refresh form, the JWKS, charges (idempotent, 402 with the balance, 409 on
//! a changed body), usermap reports and manifest reloads (parsed, invalid or unreachable, as set). It counts what it is asked, can hold
//! refreshes at a gate, and can misbehave on charges, so client tests can assert on the wire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::auth::{Clock as _, SystemClock};
use crate::client::{ClientConfig, Credentials, Secret};
use crate::protocol::{ChargeRequest, MappingReport, Problem, WalletOwner};
use axum::Router;
use axum::extract::{Form, Json, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use super::signing;

pub const REFRESH_TOKEN: &str = "rt_fake-refresh-token-0123456789";
pub const USER_API_TOKEN: &str = "api_fake-user-token-0123456789";

/// What a manifest reload answers, as the real gateway would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadAnswer {
    /// 200 with the parsed manifest and these warnings.
    Parsed { warnings: Vec<String> },
    /// 422 `invalidManifest` with this reason.
    Invalid(String),
    /// 502 `providerUnreachable` with this reason.
    Unreachable(String),
}

/// How the charge endpoint behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeMode {
    Honest,
    /// Answers this status with a problem body.
    Status(u16),
    /// Answers 200 with a 1 MiB body.
    Huge,
    /// Never answers.
    Hang,
}

#[derive(Default)]
struct Ledger {
    wallets: HashMap<WalletOwner, i64>,
    /// chargeId → (body, first answer).
    charges: HashMap<String, (ChargeRequest, StatusCode, Value)>,
}

struct Gw {
    url: String,
    expires_in: AtomicI64,
    refreshes: AtomicUsize,
    charge_calls: AtomicUsize,
    reloads: AtomicUsize,
    access: Mutex<Vec<String>>,
    ledger: Mutex<Ledger>,
    reports: Mutex<Vec<Value>>,
    registered: Mutex<Vec<String>>,
    mode: Mutex<ChargeMode>,
    reload_answer: Mutex<ReloadAnswer>,
    gated: AtomicBool,
    gate: Semaphore,
    entered: Notify,
}

pub struct FakeGateway {
    pub url: String,
    gw: Arc<Gw>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn problem(status: StatusCode, code: &str, detail: &str) -> Problem {
    Problem::new(status.as_u16(), code, code, detail)
}

fn problem_response(status: StatusCode, problem: Problem) -> Response {
    (
        status,
        [("content-type", Problem::CONTENT_TYPE)],
        Json(problem),
    )
        .into_response()
}

impl Gw {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        bearer.is_some_and(|token| self.access.lock().expect("lock").iter().any(|t| t == token))
    }
}

async fn jwks() -> Json<Value> {
    Json(signing::jwks())
}

async fn oauth_token(
    State(gw): State<Arc<Gw>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let n = gw.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
    if gw.gated.load(Ordering::SeqCst) {
        gw.entered.notify_one();
        let _permit = gw.gate.acquire().await;
    }
    let good = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("refresh_token").map(String::as_str) == Some(REFRESH_TOKEN);
    if !good {
        let body =
            json!({"error": "invalid_grant", "error_description": "the refresh token is invalid"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let expires_in = gw.expires_in.load(Ordering::SeqCst);
    // A JWT like the gateway's (SPEC §2.1): `doctor` reads its `iat` to measure clock skew.
    let now = SystemClock.now_unix();
    let token = signing::sign(
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": signing::KID}),
        &json!({"iss": gw.url, "sub": "#P_dev", "aud": gw.url, "role": "PROVIDER",
                "iat": now, "nbf": now, "exp": now + expires_in, "jti": format!("at-{n}")}),
    );
    gw.access.lock().expect("lock").push(token.clone());
    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}))
        .into_response()
}

async fn charge(
    State(gw): State<Arc<Gw>>,
    headers: HeaderMap,
    Json(request): Json<ChargeRequest>,
) -> Response {
    gw.charge_calls.fetch_add(1, Ordering::SeqCst);
    if !gw.authorized(&headers) {
        return problem_response(
            StatusCode::UNAUTHORIZED,
            problem(StatusCode::UNAUTHORIZED, "invalidToken", "no"),
        );
    }
    let mode = *gw.mode.lock().expect("lock");
    match mode {
        ChargeMode::Honest => {}
        ChargeMode::Status(status) => {
            let status = StatusCode::from_u16(status).expect("a status");
            return problem_response(
                status,
                problem(status, "broken", "the fake gateway is told to fail"),
            );
        }
        ChargeMode::Huge => return (StatusCode::OK, vec![b' '; 1 << 20]).into_response(),
        ChargeMode::Hang => std::future::pending::<()>().await,
    }
    let mut ledger = gw.ledger.lock().expect("lock");
    if let Some((first, status, answer)) = ledger.charges.get(&request.charge_id) {
        if *first != request {
            let p = problem(
                StatusCode::CONFLICT,
                "chargeMismatch",
                "this chargeId was used with another body",
            );
            return problem_response(StatusCode::CONFLICT, p);
        }
        let mut answer = answer.clone();
        if *status == StatusCode::OK {
            answer["duplicate"] = json!(true);
        }
        return (*status, Json(answer)).into_response();
    }
    let balance = ledger.wallets.get(&request.owner).copied().unwrap_or(0);
    let units = i64::try_from(request.units).expect("units fit");
    let (status, answer) = if balance >= units {
        ledger
            .wallets
            .insert(request.owner.clone(), balance - units);
        (
            StatusCode::OK,
            json!({"balance": balance - units, "duplicate": false}),
        )
    } else {
        let p = problem(
            StatusCode::PAYMENT_REQUIRED,
            "insufficientFunds",
            "not enough units",
        )
        .with("balance", balance);
        (
            StatusCode::PAYMENT_REQUIRED,
            serde_json::to_value(p).expect("a problem"),
        )
    };
    ledger
        .charges
        .insert(request.charge_id.clone(), (request, status, answer.clone()));
    (status, Json(answer)).into_response()
}

async fn usermap(
    State(gw): State<Arc<Gw>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(report): Json<Value>,
) -> Response {
    if !gw.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if serde_json::from_value::<MappingReport>(report.clone()).is_err() {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    // A report with a nonce gets a completion code, as from the gateway: `code-<nonce>`.
    let code = report["nonce"].as_str().map(|n| format!("code-{n}"));
    gw.reports
        .lock()
        .expect("lock")
        .push(json!({"provider": id, "report": report}));
    match code {
        Some(code) => Json(json!({ "completionCode": code })).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn reload(State(gw): State<Arc<Gw>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !gw.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    gw.reloads.fetch_add(1, Ordering::SeqCst);
    let answer = gw.reload_answer.lock().expect("lock").clone();
    match answer {
        ReloadAnswer::Parsed { warnings } => Json(json!({
            "id": id, "manifestError": null, "reload": "updated", "warnings": warnings,
            "manifest": {"users": {"requireExplicitMapping": false},
                         "features": {"storage": {"enabled": true}}},
        }))
        .into_response(),
        ReloadAnswer::Invalid(reason) => problem_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            problem(StatusCode::UNPROCESSABLE_ENTITY, "invalidManifest", &reason),
        ),
        ReloadAnswer::Unreachable(reason) => problem_response(
            StatusCode::BAD_GATEWAY,
            problem(StatusCode::BAD_GATEWAY, "providerUnreachable", &reason),
        ),
    }
}

async fn register(
    State(gw): State<Arc<Gw>>,
    headers: HeaderMap,
    Json(metadata): Json<Value>,
) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    if bearer != Some(&format!("Bearer {USER_API_TOKEN}")) {
        return problem_response(
            StatusCode::UNAUTHORIZED,
            problem(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in"),
        );
    }
    let id = metadata["id"].as_str().unwrap_or_default().to_owned();
    let mut registered = gw.registered.lock().expect("lock");
    if registered.contains(&id) {
        let p = problem(
            StatusCode::CONFLICT,
            "providerExists",
            "a provider with this id exists",
        );
        return problem_response(StatusCode::CONFLICT, p);
    }
    registered.push(id.clone());
    let mut body = metadata;
    body["status"] = json!("active");
    body["refreshToken"] = json!(REFRESH_TOKEN);
    body["issuer"] = json!(gw.url);
    body["jwksUrl"] = json!(format!("{}/.well-known/jwks.json", gw.url));
    (StatusCode::CREATED, Json(body)).into_response()
}

impl FakeGateway {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let gw = Arc::new(Gw {
            url: url.clone(),
            expires_in: AtomicI64::new(600),
            refreshes: AtomicUsize::new(0),
            charge_calls: AtomicUsize::new(0),
            reloads: AtomicUsize::new(0),
            access: Mutex::new(Vec::new()),
            ledger: Mutex::new(Ledger::default()),
            reports: Mutex::new(Vec::new()),
            registered: Mutex::new(Vec::new()),
            mode: Mutex::new(ChargeMode::Honest),
            reload_answer: Mutex::new(ReloadAnswer::Parsed {
                warnings: Vec::new(),
            }),
            gated: AtomicBool::new(false),
            gate: Semaphore::new(0),
            entered: Notify::new(),
        });
        let router = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .route("/oauth/token", post(oauth_token))
            .route("/api/providers", post(register))
            .route("/api/accounting/charge", post(charge))
            .route("/api/providers/usermap/{id}", post(usermap))
            .route("/api/providers/{id}/manifest/reload", post(reload))
            .with_state(Arc::clone(&gw));
        let task =
            tokio::spawn(async move { axum::serve(listener, router).await.expect("fake gateway") });
        Self { url, gw, task }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.url)
    }

    pub fn credentials(&self, provider_id: &str) -> Credentials {
        Credentials {
            gateway_url: self.url.clone(),
            provider_id: provider_id.to_owned(),
            refresh_token: Secret::new(REFRESH_TOKEN),
            issuer: self.url.clone(),
            jwks_url: self.jwks_url(),
        }
    }

    pub fn client_config(&self, provider_id: &str) -> ClientConfig {
        self.credentials(provider_id).client_config()
    }

    pub fn grant(&self, owner: WalletOwner, units: i64) {
        *self
            .gw
            .ledger
            .lock()
            .expect("lock")
            .wallets
            .entry(owner)
            .or_default() += units;
    }

    pub fn balance(&self, owner: &WalletOwner) -> i64 {
        self.gw
            .ledger
            .lock()
            .expect("lock")
            .wallets
            .get(owner)
            .copied()
            .unwrap_or(0)
    }

    pub fn refreshes(&self) -> usize {
        self.gw.refreshes.load(Ordering::SeqCst)
    }

    pub fn charge_calls(&self) -> usize {
        self.gw.charge_calls.load(Ordering::SeqCst)
    }

    pub fn reloads(&self) -> usize {
        self.gw.reloads.load(Ordering::SeqCst)
    }

    pub fn reports(&self) -> Vec<Value> {
        self.gw.reports.lock().expect("lock").clone()
    }

    pub fn set_expires_in(&self, secs: i64) {
        self.gw.expires_in.store(secs, Ordering::SeqCst);
    }

    /// Every access token issued so far stops working (as after a revocation).
    pub fn revoke_access_tokens(&self) {
        self.gw.access.lock().expect("lock").clear();
    }

    pub fn set_reload_answer(&self, answer: ReloadAnswer) {
        *self.gw.reload_answer.lock().expect("lock") = answer;
    }

    pub fn set_charge_mode(&self, mode: ChargeMode) {
        *self.gw.mode.lock().expect("lock") = mode;
    }

    /// From now on each refresh waits at the gate until `open_refresh_gate`.
    pub fn close_refresh_gate(&self) {
        self.gw.gated.store(true, Ordering::SeqCst);
    }

    /// Resolves once a refresh is waiting at the closed gate.
    pub async fn refresh_waiting(&self) {
        self.gw.entered.notified().await;
    }

    pub fn open_refresh_gate(&self) {
        self.gw.gated.store(false, Ordering::SeqCst);
        self.gw.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Every charge the gateway took (accepted or refused for funds), in order: (request, status).
    pub fn charges(&self) -> Vec<(ChargeRequest, u16)> {
        let ledger = self.gw.ledger.lock().expect("ledger");
        let mut all: Vec<_> = ledger
            .charges
            .values()
            .map(|(request, status, _)| (request.clone(), status.as_u16()))
            .collect();
        all.sort_by(|a, b| a.0.charge_id.cmp(&b.0.charge_id));
        all
    }

    /// A usermap token (SPEC §4 step 2) as the gateway's connect page would send it.
    pub fn usermap_token(
        &self,
        provider_id: &str,
        username: &str,
        nonce: &str,
        return_url: &str,
    ) -> String {
        let principal = signing::principal(username);
        signing::usermap_token(&self.url, provider_id, &principal, nonce, return_url)
    }

    /// A service token as the broker would send it to `provider_id` for `username`.
    pub fn service_token(
        &self,
        provider_id: &str,
        username: Option<&str>,
        project: Option<&str>,
    ) -> String {
        let principal = username.map(signing::principal);
        signing::service_token(&self.url, provider_id, principal.as_ref(), project)
    }
}
