//! `provider-kit doctor`: runs `provider_kit::doctor` on the wall clock and prints its report, as
//! lines or `--json`; any failed check makes the command fail.

use std::path::Path;
use std::sync::Arc;

use provider_kit::auth::SystemClock;

pub async fn run(
    credentials: &Path,
    json: bool,
    data_dir: Option<&Path>,
    tls_cert: Option<&Path>,
) -> anyhow::Result<()> {
    let mut report = provider_kit::doctor::run(credentials, Arc::new(SystemClock)).await;
    if let Some(cert) = tls_cert {
        let now = provider_kit::auth::Clock::now_unix(&SystemClock);
        report
            .checks
            .push(provider_kit::doctor::certificate(cert, now));
    }
    if let Some(dir) = data_dir {
        let store = dir.join(provider_kit::usermap::STORE_FILE);
        let now = provider_kit::auth::Clock::now_unix(&SystemClock);
        report
            .checks
            .push(provider_kit::doctor::quarantine(&store, now).await);
    }
    if json {
        crate::say(&report.render_json())?;
    } else {
        crate::say(report.render_text().trim_end())?;
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == provider_kit::doctor::Status::Fail)
        .count();
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed");
    }
    Ok(())
}
