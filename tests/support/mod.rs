//! Harness for end-to-end tests: locates the workspace's binaries, gives each test a private data
//! folder and database, runs the real processes and waits on conditions (never on sleeps alone).

pub mod browser;
pub mod pg_cluster;
pub mod process;
pub mod provider;
pub mod replicas;

use std::path::PathBuf;
use std::time::Duration;

/// A built binary of this workspace (`cargo test --workspace` builds them before any test runs).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo test --workspace` (or `cargo build --workspace --bins` first)",
        path.display()
    );
    path
}

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let unique = format!("{label}-{}-{}", std::process::id(), random_suffix());
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn random_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::Instant::now().elapsed().as_nanos() as u64;
    format!(
        "{:x}{:x}",
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos ^ u64::from(std::process::id())
    )
}

/// A free loopback port: bound, read, released. Another process could take it in between; the
/// harness retries start-up on a new port if that happens.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The `name=value` of the cookie `response` sets, to send back in a `cookie` header.
pub fn cookie_set_by(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .expect("ASCII")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned()
}

/// Polls `check` every 50 ms until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
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
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh PostgreSQL database for one test, from `GATEWAY_TEST_DATABASE_URL` (or the local
/// server). Returns its URL; the database is dropped by `drop_postgres`.
pub async fn fresh_postgres() -> (String, String) {
    let admin = std::env::var("GATEWAY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    fresh_postgres_on(&admin).await
}

/// `fresh_postgres` on the server at `admin` (a URL of any database there).
pub async fn fresh_postgres_on(admin: &str) -> (String, String) {
    let name = format!("gw_e2e_{}", random_suffix());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is needed ({e}); start it or set GATEWAY_TEST_DATABASE_URL")
        });
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    let mut url = url::Url::parse(admin).expect("database url");
    url.set_path(&name);
    (url.to_string(), name)
}

pub async fn drop_postgres(name: &str) {
    let admin = std::env::var("GATEWAY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}
