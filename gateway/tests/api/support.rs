//! Test harness: the real gateway on port 0 with a fresh database (SQLite file or its own PostgreSQL
//! database), a hand-moved clock, and helpers that speak the product's language.

use gateway::app::{App, AppState};
use gateway::clock::ManualClock;
use gateway::config::Config;
use gateway::serve::serve_with_metrics;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    pub dir: PathBuf,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = std::env::temp_dir().join(format!("gw-test-{}", gateway::secrets::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.join("gateway.db").display()),
                dir,
                pg_drop: None,
            },
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("gw_test_{}", &gateway::secrets::random_id()[..16]);
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!(
                        "PostgreSQL is needed for these tests ({e}); start it or set GATEWAY_TEST_DATABASE_URL"
                    ));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    dir,
                    pg_drop: Some((admin, name)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg_drop.take() {
            // Drop runs outside any runtime we may block on: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) =
                        <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await
                    {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// `GATEWAY_TEST_DATABASE_URL`, or the machine's local PostgreSQL.
pub fn postgres_admin_url() -> String {
    std::env::var("GATEWAY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub struct TestApp {
    pub url: String,
    /// Base URL of the metrics listener (`GET /metrics`), on its own port.
    pub metrics_url: String,
    pub app: AppState,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _db: TestDb,
}

pub const START_MS: i64 = 1_800_000_000_000;

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like `spawn`, with the configuration adjusted first. Background manifest polling is off
    /// unless the test turns it on (`manifest.poll_ms`), so tests drive fetches explicitly.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_url = format!("http://{}", metrics.local_addr().unwrap());
        let mut config = Config {
            database_url: db.url.clone(),
            data_dir: db.dir.clone(),
            ..Config::default()
        };
        config.manifest.poll_ms = 3_600_000;
        // Most tests register test providers as plain users; `attacks::outbound` checks that the
        // `serve` default (admin) refuses that.
        config.providers.test_registration = gateway::config::TestRegistration::Owner;
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(START_MS));
        let url = format!("http://{addr}");
        let app = App::build(config, url.clone(), clock.clone())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with_metrics(
            app.clone(),
            listener,
            Some(metrics),
            async {
                let _ = rx.await;
            },
        ));
        wait_for_the_change_feed(&app).await;
        Self {
            url,
            metrics_url,
            app,
            clock,
            http: reqwest::Client::new(),
            stop: Some(tx),
            server: Some(server),
            _db: db,
        }
    }

    /// Approves a pending provider as an admin.
    pub async fn approve(&self, admin: &str, id: &str) {
        let (status, body) = self
            .post(
                admin,
                &format!("/api/admin/providers/{id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Stops the server and serves a new `App` on the same database with the configuration
    /// adjusted, as an operator's restart does (on a new port).
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        let mut config = self.app.config.clone();
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_url = format!("http://{}", metrics.local_addr().unwrap());
        let app = App::build(config, url.clone(), self.clock.clone())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with_metrics(
            app.clone(),
            listener,
            Some(metrics),
            async {
                let _ = rx.await;
            },
        ));
        wait_for_the_change_feed(&app).await;
        Self {
            url,
            metrics_url,
            app,
            clock: self.clock,
            http: self.http,
            stop: Some(tx),
            server: Some(server),
            _db: self._db,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Creates a user with a password and returns a personal API token for it.
    pub async fn user(&self, username: &str, admin: bool) -> String {
        let user = self
            .app
            .accounts
            .create_user(gateway::accounts::UserInput {
                username: username.into(),
                email: format!("{username}@example.org"),
                first_name: "First".into(),
                last_name: "Last".into(),
                organization: Some("example.org".into()),
                admin,
                password: Some(format!("{username}-password")),
            })
            .await
            .unwrap();
        let (_, secret) = self
            .app
            .accounts
            .create_api_token(&user, "tests")
            .await
            .unwrap();
        secret.expose().to_owned()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// Registers a provider; returns the registration answer.
    pub async fn register(&self, token: &str, id: &str, env: &str) -> (StatusCode, Value) {
        let https = env == "production";
        let domain = if https {
            format!("{id}.example.org")
        } else {
            "127.0.0.1".to_owned()
        };
        self.post(
            token,
            "/api/providers",
            json!({ "id": id, "domain": domain, "https": https, "port": 8443, "env": env }),
        )
        .await
    }

    /// UCloud refresh form.
    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/auth/providers/refresh"))
            .json(&json!({ "items": [{ "refreshToken": refresh_token }] }))
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// OAuth 2.0 refresh form.
    pub async fn oauth_refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap();
        read(r).await
    }
}

pub async fn read(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Runs an async test body once per backend: `on_both_backends!(a_sentence)` after
/// `async fn a_sentence(backend: Backend)` gives the tests `a_sentence::sqlite` and
/// `a_sentence::postgres` (a module and a function may share a name). Every API test goes through
/// here, so a query that only one backend accepts cannot hide.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        $crate::on_both_backends!($name, $name);
    };
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body($crate::support::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$body($crate::support::Backend::Postgres).await
            }
        }
    };
}

/// Waits until the served `app` listens to the change feed, as `/readyz` does before it says 200.
pub async fn wait_for_the_change_feed(app: &AppState) {
    wait_until(std::time::Duration::from_secs(10), || async {
        app.feed_health.is_live().then_some(())
    })
    .await;
}

/// Polls `check` every 20 ms until it returns `Some`, failing after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Signing in over HTTP, as a browser or a script would.
impl TestApp {
    /// `POST /auth/login` with JSON, optionally claiming to come from `forwarded_for`.
    pub async fn sign_in_as(
        &self,
        username: &str,
        password: &str,
        forwarded_for: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url("/auth/login"))
            .json(&json!({ "username": username, "password": password }));
        if let Some(xff) = forwarded_for {
            request = request.header("x-forwarded-for", xff);
        }
        request.send().await.unwrap()
    }

    /// Signs `username` in with the password `TestApp::user` gave them; returns `name=value`.
    pub async fn session_cookie(&self, username: &str) -> String {
        let r = self
            .sign_in_as(username, &format!("{username}-password"), None)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "signing {username} in");
        cookie_pair(&r)
    }
}

pub fn cookie_pair(r: &reqwest::Response) -> String {
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}
