//! Running the `provider-kit` binary: one-shot commands (`register`, `reload-manifest`) and the dev
//! provider (`serve`) on a chosen port, its log kept in a file and stopped with SIGTERM.

use super::process::Gateway;
use super::{TempDir, binary, free_port, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs `provider-kit ARGS` to completion.
pub fn provider_kit(args: &[&str]) -> Output {
    Command::new(binary("provider-kit"))
        .args(args)
        .env("PROVIDER_KIT_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run provider-kit")
}

/// `provider-kit register`: registers the provider that `metadata` describes at `gateway` with the
/// API token in `token_file`, and saves its credentials to `out`.
pub fn register(gateway: &Gateway, metadata: &Path, token_file: &Path, out: &Path) -> Output {
    provider_kit(&[
        "register",
        "--gateway",
        &gateway.url(""),
        "--metadata",
        metadata.to_str().expect("UTF-8 path"),
        "--token-file",
        token_file.to_str().expect("UTF-8 path"),
        "--out",
        out.to_str().expect("UTF-8 path"),
    ])
}

/// Everything a command printed, stdout then stderr: for failure messages.
pub fn output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `provider-kit accounts hash-password`, fed `password` on stdin.
pub fn hash_password(password: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(binary("provider-kit"))
        .args(["accounts", "hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("provider-kit accounts hash-password");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("hash");
    assert!(out.status.success(), "{}", output(&out));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// A running `provider-kit serve`.
pub struct DevProvider {
    /// `http://127.0.0.1:{port}/ucloud/{id}`
    pub base: String,
    log: PathBuf,
    child: Option<Child>,
}

impl DevProvider {
    /// Starts the dev provider and waits until it serves its manifest.
    pub async fn serve(
        credentials: &Path,
        manifest: &Path,
        data_dir: &Path,
        port: u16,
        id: &str,
    ) -> Self {
        Self::spawn(credentials, manifest, data_dir, None, port, id).await
    }

    /// Like `serve`, with the local accounts people sign in with at the provider in `users_file`.
    pub async fn serve_with_users(
        credentials: &Path,
        manifest: &Path,
        data_dir: &Path,
        users_file: &Path,
        port: u16,
        id: &str,
    ) -> Self {
        Self::spawn(credentials, manifest, data_dir, Some(users_file), port, id).await
    }

    async fn spawn(
        credentials: &Path,
        manifest: &Path,
        data_dir: &Path,
        users_file: Option<&Path>,
        port: u16,
        id: &str,
    ) -> Self {
        let log = data_dir.with_extension("log");
        let mut command = Command::new(binary("provider-kit"));
        command
            .arg("serve")
            .arg("--credentials")
            .arg(credentials)
            .arg("--manifest")
            .arg(manifest)
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(users_file) = users_file {
            command.arg("--users-file").arg(users_file);
        }
        let child = command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("PROVIDER_KIT_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("provider log file"))
            .spawn()
            .expect("spawn provider-kit serve");
        let provider = Self {
            base: format!("http://127.0.0.1:{port}/ucloud/{id}"),
            log,
            child: Some(child),
        };
        let url = format!("{}/manifest", provider.base);
        wait_for(
            "the dev provider's manifest",
            Duration::from_secs(30),
            || {
                let url = url.clone();
                async move {
                    let r = reqwest::get(&url).await.ok()?;
                    (r.status() == 200).then_some(())
                }
            },
        )
        .await;
        provider
    }

    /// What the provider has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM, waits, and returns whether it exited cleanly and its whole log.
    pub async fn terminate(mut self) -> (bool, String) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("wait");
        (status.success(), self.log())
    }
}

impl Drop for DevProvider {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HPC-like provider: accounts must be connected explicitly.
const EXPLICIT_MAPPING_MANIFEST: &str =
    "users:\n  requireExplicitMapping: true\nfeatures:\n  storage: { enabled: true }\n";

/// A running dev provider on which users must connect their gateway account to a local account
/// before they are brokered (`requireExplicitMapping`), with storage. Stopped on drop.
pub struct ExplicitMappingProvider {
    /// Its loopback port, where its sign-in and confirm pages are too.
    pub port: u16,
    /// What `provider-kit register` saved.
    pub credentials: PathBuf,
    /// Its data folder: a user's stored files are under `storage/<local account>/`.
    pub data: PathBuf,
    // Declared before `_work`: the process stops before its folder is removed.
    _served: DevProvider,
    _work: TempDir,
}

impl ExplicitMappingProvider {
    /// Registers the provider `id` at `gateway` with `owner_token` (`provider-kit register`), gives
    /// it the local `accounts` as (username, password), serves it, and has the gateway load its
    /// manifest (`provider-kit reload-manifest`).
    pub async fn start(
        gateway: &Gateway,
        owner_token: &str,
        id: &str,
        accounts: &[(&str, &str)],
    ) -> Self {
        Self::start_with_manifest(
            gateway,
            owner_token,
            id,
            accounts,
            EXPLICIT_MAPPING_MANIFEST,
        )
        .await
    }

    /// `start`, serving `manifest` instead.
    pub async fn start_with_manifest(
        gateway: &Gateway,
        owner_token: &str,
        id: &str,
        accounts: &[(&str, &str)],
        manifest_text: &str,
    ) -> Self {
        let work = TempDir::new(&format!("provider-{id}"));
        let port = free_port();
        let metadata = work.0.join(format!("{id}.yaml"));
        std::fs::write(
            &metadata,
            format!("id: {id}\ndomain: 127.0.0.1\nhttps: false\nport: {port}\nenv: test\n"),
        )
        .expect("metadata");
        let manifest = work.0.join(format!("{id}.manifest.yaml"));
        std::fs::write(&manifest, manifest_text).expect("manifest");
        let token_file = work.0.join("owner.token");
        std::fs::write(&token_file, owner_token).expect("token");
        let credentials = work.0.join(format!("{id}.json"));
        let registered = register(gateway, &metadata, &token_file, &credentials);
        assert!(registered.status.success(), "{}", output(&registered));
        let users = work.0.join("users.yaml");
        let mut listed = String::from("users:\n");
        for (username, password) in accounts {
            let hash = hash_password(password);
            listed.push_str(&format!(
                "  - username: {username}\n    password_hash: '{hash}'\n"
            ));
        }
        std::fs::write(&users, listed).expect("users file");
        let data = work.0.join("data");
        let served =
            DevProvider::serve_with_users(&credentials, &manifest, &data, &users, port, id).await;
        let reload = provider_kit(&[
            "reload-manifest",
            "--credentials",
            credentials.to_str().expect("path"),
        ]);
        assert!(reload.status.success(), "{}", output(&reload));
        Self {
            port,
            credentials,
            data,
            _served: served,
            _work: work,
        }
    }
}
