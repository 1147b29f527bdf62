//! The `provider-kit` binary as a process: one-shot commands, and `serve` on a free port with its log
//! captured to a file (so a test can check what it logged, and that no token is in it).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::wait_for;

pub const BINARY: &str = env!("CARGO_BIN_EXE_provider-kit");

/// A fresh folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("pk-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `provider-kit ARGS` to completion: (success, stdout, stderr).
pub async fn run(args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let output = tokio::process::Command::new(BINARY)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run provider-kit");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `provider-kit ARGS` with `input` on stdin: (success, stdout, stderr).
pub async fn run_with_input(args: &[&str], input: &str) -> (bool, String, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(BINARY)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run provider-kit");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    let output = child.wait_with_output().await.expect("provider-kit output");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A running `provider-kit serve`.
pub struct DevProvider {
    pub base: String,
    pub log: PathBuf,
    child: tokio::process::Child,
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl DevProvider {
    /// Starts `provider-kit serve --config CONFIG ARGS` listening on `port` and waits until it
    /// serves its manifest.
    pub async fn start(
        config: &Path,
        args: &[&str],
        port: u16,
        provider_id: &str,
        log: PathBuf,
    ) -> Self {
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = tokio::process::Command::new(BINARY)
            .args(["serve", "--config"])
            .arg(config)
            .args(args)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("PROVIDER_KIT_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn provider-kit serve");
        let base = format!("http://127.0.0.1:{port}/ucloud/{provider_id}");
        let provider = Self { base, log, child };
        let url = format!("{}/manifest", provider.base);
        wait_for(
            "the dev provider's manifest",
            Duration::from_secs(30),
            || {
                let url = url.clone();
                async move {
                    reqwest::get(&url)
                        .await
                        .ok()
                        .filter(|r| r.status() == 200)
                        .map(|_| ())
                }
            },
        )
        .await;
        provider
    }

    /// Sends SIGTERM and returns whether it exited cleanly, and its log.
    pub async fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().expect("running").to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(sent.success());
        let status = self.child.wait().await.expect("wait");
        (
            status.success(),
            std::fs::read_to_string(&self.log).unwrap_or_default(),
        )
    }
}
