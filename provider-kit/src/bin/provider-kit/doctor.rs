//! `provider-kit doctor`: runs `provider_kit::doctor` on the wall clock and prints its report, as
//! lines or `--json`; any failed check makes the command fail.

use std::path::Path;
use std::sync::Arc;

use provider_kit::auth::SystemClock;

pub async fn run(credentials: &Path, json: bool) -> anyhow::Result<()> {
    let report = provider_kit::doctor::run(credentials, Arc::new(SystemClock)).await;
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
