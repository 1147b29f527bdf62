//! Running the `provider-kit` binary: one-shot commands (`register`, `reload-manifest`) and the dev
//! provider (`serve`) on a chosen port, its log kept in a file and stopped with SIGTERM.

use super::{binary, wait_for};
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
        let log = data_dir.with_extension("log");
        let child = Command::new(binary("provider-kit"))
            .arg("serve")
            .arg("--credentials")
            .arg(credentials)
            .arg("--manifest")
            .arg(manifest)
            .arg("--data-dir")
            .arg(data_dir)
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
