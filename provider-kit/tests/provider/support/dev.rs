//! `provider-kit serve` next to a fake gateway, with its own folder: what the dev provider tests
//! start from. Calls are made as the broker makes them (a service token for a user), or as a browser
//! makes them (no redirects followed, cookies by hand).

use std::path::Path;

use super::FakeGateway;
use super::process::{DevProvider, TempDir, free_port};
use super::signing;

/// The dev provider of the repository, which maps users implicitly.
pub const REPO_MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../manifests/dev.manifest.yaml"
);

pub struct Setup {
    pub gateway: FakeGateway,
    pub dir: TempDir,
    pub provider: DevProvider,
    pub http: reqwest::Client,
    /// Follows no redirect, so each step of the connection flow can be checked.
    pub browser: reqwest::Client,
}

/// A dev provider serving `manifest` (a path) with `extra_config` in its config file and `args`
/// on its command line; its data dir is `{dir}/data`.
pub async fn start(manifest: &Path, extra_config: &str, args: &[&str]) -> Setup {
    let gateway = FakeGateway::start().await;
    let dir = TempDir::new("serve");
    gateway
        .credentials("dev")
        .save(dir.join("dev.json"), false)
        .expect("credentials");
    let config = format!(
        "credentials: dev.json\nmanifest: {}\ndata_dir: data\n{extra_config}",
        manifest.display()
    );
    std::fs::write(dir.join("serve.yaml"), config).expect("config");
    let provider = DevProvider::start(
        &dir.join("serve.yaml"),
        args,
        free_port(),
        "dev",
        dir.join("log"),
    )
    .await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Setup {
        gateway,
        dir,
        provider,
        http: reqwest::Client::new(),
        browser,
    }
}

/// The repository's dev provider with `extra_config`.
pub async fn setup(extra_config: &str) -> Setup {
    start(Path::new(REPO_MANIFEST), extra_config, &[]).await
}

impl Setup {
    /// A call as the gateway's broker makes it: a service token for `user` (and `project`).
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        project: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let token = self.gateway.service_token("dev", Some(user), project);
        self.http
            .request(method, format!("{}/{path}", self.provider.base))
            .bearer_auth(token)
    }

    /// The gateway's return URL for connection `c1`.
    pub fn return_url(&self) -> String {
        format!("{}/connections/c1/complete", self.gateway.url)
    }

    /// A usermap token for `user` as the gateway signs it, with `nonce`.
    pub fn usermap_token(&self, user: &str, nonce: &str) -> String {
        signing::usermap_token(
            &self.gateway.url,
            "dev",
            &signing::principal(user),
            nonce,
            &self.return_url(),
        )
    }

    /// `POST /usermap` as the browser's auto-submitted form does.
    pub async fn start_connection(&self, token: &str) -> reqwest::Response {
        self.browser
            .post(format!("{}/usermap", self.provider.base))
            .form(&[("token", token)])
            .send()
            .await
            .expect("answer")
    }
}

/// `name=value` of the `Set-Cookie` of `response`.
pub fn cookie_of(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie");
    set.split(';').next().expect("name=value").to_owned()
}
