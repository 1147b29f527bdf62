//! Two `gateway serve` replicas on one fresh PostgreSQL database, sharing nothing else but the
//! key-encryption key and the public URL (as behind a load balancer), with an admin to drive them.

use super::process::{Gateway, NewUser, Served};
use super::{drop_postgres, fresh_postgres};
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::Read as _;

/// The issuer both replicas sign and check as: the load balancer's address.
pub const PUBLIC_URL: &str = "http://gateway.replicas.test";

pub struct Replicas {
    pub a: Gateway,
    pub b: Gateway,
    pub served_a: Option<Served>,
    pub served_b: Option<Served>,
    pub admin: String,
    pub http: reqwest::Client,
    /// The database both replicas use, for checks a user cannot make over HTTP.
    pub database_url: String,
    database: String,
}

/// 32 random bytes in standard base64: a key-encryption key.
fn random_kek() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("random bytes");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Replicas {
    /// Creates the database and an admin (from the CLI), then serves both replicas.
    pub async fn start() -> Self {
        let (url, database) = fresh_postgres().await;
        Self::start_on(url, database).await
    }

    /// `start` on the database `url` (named `database`), already created.
    pub async fn start_on(url: String, database: String) -> Self {
        let kek = random_kek();
        let replica = || {
            let mut g = Gateway::new(Some(url.clone()));
            g.envs = vec![
                ("GATEWAY_KEY_ENCRYPTION_KEY".into(), kek.clone()),
                ("GATEWAY_PUBLIC_URL".into(), PUBLIC_URL.into()),
                // Only the change feed may carry a change in time: the credential cache's TTL
                // and the safety net are far longer than the 1 s every test allows.
                ("GATEWAY_CREDENTIAL_CACHE_MS".into(), "60000".into()),
                ("GATEWAY_CHANGE_RESYNC_SECS".into(), "3600".into()),
                ("GATEWAY_KEY_RELOAD_SECS".into(), "3600".into()),
            ];
            g
        };
        let (a, b) = (replica(), replica());
        let admin = a.create_user_with_token(
            &NewUser::new("root", "root@example.org", "Ada", "Admin").admin(),
        );
        let served_a = Some(a.serve().await);
        let served_b = Some(b.serve().await);
        Self {
            a,
            b,
            served_a,
            served_b,
            admin,
            http: reqwest::Client::new(),
            database_url: url,
            database,
        }
    }

    /// Stops both replicas and drops the database.
    pub async fn finish(mut self) {
        drop(self.served_a.take());
        drop(self.served_b.take());
        drop_postgres(&self.database).await;
    }

    /// A plain user with a password, and an API token of theirs.
    pub fn user(&self, username: &str) -> String {
        let email = format!("{username}@example.org");
        self.a.create_user_with_token(
            &NewUser::new(username, &email, "First", "Last").password("a long password"),
        )
    }

    /// `gateway wallets grant`, run beside the replicas: `units` to `username` at `provider`.
    pub fn grant(&self, username: &str, provider: &str, units: u64) {
        self.a.grant(username, provider, units);
    }

    /// `GET path` on `replica` with a bearer token: status and body (`Null` if not JSON).
    pub async fn get(&self, replica: &Gateway, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(replica.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` on `replica` with a bearer token and a JSON body.
    pub async fn post(
        &self,
        replica: &Gateway,
        token: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let r = self
            .http
            .post(replica.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("post");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Registers a test provider at `127.0.0.1:port` owned by `owner`: its refresh token.
    pub async fn register(&self, owner: &str, id: &str, port: u16) -> String {
        let (status, reg) = self
            .post(
                &self.a,
                owner,
                "/api/providers",
                json!({ "id": id, "domain": "127.0.0.1", "https": false, "port": port, "env": "test" }),
            )
            .await;
        assert_eq!(status, 201, "{reg}");
        reg["refreshToken"]
            .as_str()
            .expect("refresh token")
            .to_owned()
    }

    /// A provider access token from `replica` (`/oauth/token`).
    pub async fn access_token(&self, replica: &Gateway, refresh: &str) -> String {
        let r: Value = self
            .http
            .post(replica.url("/oauth/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        r["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {r}"))
            .to_owned()
    }

    /// `POST /api/accounting/charge` on `replica`: the status and body.
    pub async fn charge(
        &self,
        replica: &Gateway,
        access: &str,
        charge_id: &str,
        username: &str,
        units: u64,
    ) -> Result<(u16, Value), reqwest::Error> {
        let r = self
            .http
            .post(replica.url("/api/accounting/charge"))
            .bearer_auth(access)
            .json(&json!({ "chargeId": charge_id, "owner": { "username": username }, "units": units }))
            .send()
            .await?;
        Ok((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
    }

    /// The kids `replica` publishes in its JWK Set.
    pub async fn published_kids(&self, replica: &Gateway) -> Vec<String> {
        let jwks: Value = self
            .http
            .get(replica.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    }
}

/// The dev provider's manifest: implicit mapping, batch containers.
pub const MANIFEST: &str = include_str!("../../manifests/dev.manifest.yaml");

/// A provider's manifest endpoint serving whatever `manifest` holds now.
pub async fn serve_manifest(
    id: &str,
    manifest: std::sync::Arc<std::sync::Mutex<String>>,
) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().route(
        &format!("/ucloud/{id}/manifest"),
        axum::routing::get(move || {
            let body = manifest.lock().expect("manifest").clone();
            async move { ([("content-type", "application/yaml")], body) }
        }),
    );
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("serve the manifest");
    });
    (port, task)
}
