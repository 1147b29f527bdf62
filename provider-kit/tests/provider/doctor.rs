//! `provider_kit::doctor` against the fake gateway: a healthy federation passes every check, and
//! each broken case — a refused refresh token, an unreachable gateway, a skewed clock (an injected
//! clock), an invalid manifest, an unreachable provider, a credentials file others can read — fails
//! the check it should, with the way out in the printed report. The binary prints the same report,
//! as text or `--json`, and exits non-zero on a failure; `serve` logs the skew check at start-up.

use std::sync::Arc;

use provider_kit::auth::{Clock as _, ManualClock, SystemClock};
use provider_kit::client::Secret;
use provider_kit::doctor::{self, CheckName, Report, Status};
use serde_json::Value;

use crate::support::process::{self, TempDir, free_port};
use crate::support::{FakeGateway, ReloadAnswer, dev};

/// Writes `gateway`'s credentials (changed by `edit`) to a fresh folder; returns the folder.
fn credentials_file(
    gateway: &FakeGateway,
    edit: impl FnOnce(&mut provider_kit::client::Credentials),
) -> TempDir {
    let dir = TempDir::new("doctor");
    let mut credentials = gateway.credentials("dev");
    edit(&mut credentials);
    credentials
        .save(dir.join("dev.json"), false)
        .expect("credentials");
    dir
}

/// Runs the doctor with this provider's clock `offset` seconds off the wall clock.
async fn doctor_with_clock_offset(dir: &TempDir, offset: i64) -> Report {
    let clock = Arc::new(ManualClock::new(SystemClock.now_unix() + offset));
    doctor::run(&dir.join("dev.json"), clock).await
}

fn status(report: &Report, name: CheckName) -> Status {
    report.get(name).expect("the check ran").status
}

fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"))
}

#[tokio::test]
async fn a_healthy_federation_passes_every_check() {
    let gateway = FakeGateway::start().await;
    let dir = credentials_file(&gateway, |_| {});
    let report = doctor_with_clock_offset(&dir, 0).await;
    let text = report.render_text();
    assert!(report.ok, "{text}");
    for check in &report.checks {
        assert_eq!(check.status, Status::Pass, "{text}");
    }
    assert_eq!(report.checks.len(), 6, "{text}");
    assert!(line(&text, "PASS  credentials file").contains("names provider `dev`"));
    assert!(line(&text, "PASS  refresh token").contains("issued an access token"));
    assert!(line(&text, "PASS  gateway JWKS").contains("publishes 1 signing key(s)"));
    assert!(line(&text, "PASS  clock skew").contains("agrees with the gateway's"));
    assert!(line(&text, "PASS  manifest").contains("without warnings"));
    assert!(text.contains(r#"as the gateway parsed it: {"features":{"storage":{"enabled":true}}"#));
    assert!(line(&text, "PASS  gateway → provider").contains("fetched the manifest"));
    assert!(
        text.ends_with("6 passed, 0 warnings, 0 failed, 0 skipped\n"),
        "{text}"
    );
    assert_eq!(gateway.reloads(), 1);
}

#[tokio::test]
async fn a_refused_refresh_token_fails_and_says_how_to_get_a_new_one() {
    let gateway = FakeGateway::start().await;
    let dir = credentials_file(&gateway, |c| {
        c.refresh_token = Secret::new("rt_revoked-token-0123456789");
    });
    let report = doctor_with_clock_offset(&dir, 0).await;
    let text = report.render_text();
    assert!(!report.ok, "{text}");
    assert!(
        line(&text, "FAIL  refresh token").contains("refused this provider's refresh token"),
        "{text}"
    );
    assert!(
        text.contains("→ the token was revoked or rotated"),
        "{text}"
    );
    assert!(
        text.contains("`gateway providers rotate-token dev`"),
        "{text}"
    );
    assert!(
        !text.contains("rt_revoked"),
        "the token is never printed:\n{text}"
    );
    // The keys are public: that check still runs and passes.
    assert_eq!(status(&report, CheckName::Jwks), Status::Pass, "{text}");
    for name in [
        CheckName::ClockSkew,
        CheckName::Manifest,
        CheckName::ProviderReachable,
    ] {
        assert_eq!(status(&report, name), Status::Skip, "{text}");
    }
    assert_eq!(gateway.reloads(), 0);
}

#[tokio::test]
async fn an_unreachable_gateway_fails_with_where_it_was_looked_for() {
    let gateway = FakeGateway::start().await;
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let dir = credentials_file(&gateway, |c| {
        c.gateway_url = nowhere.clone();
        c.jwks_url = format!("{nowhere}/.well-known/jwks.json");
    });
    let report = doctor_with_clock_offset(&dir, 0).await;
    let text = report.render_text();
    assert!(!report.ok, "{text}");
    assert!(
        line(&text, "FAIL  refresh token").contains("could not reach the gateway"),
        "{text}"
    );
    assert!(
        text.contains(&format!("→ is the gateway running at {nowhere}?")),
        "{text}"
    );
    assert!(
        line(&text, "FAIL  gateway JWKS").contains(&format!("cannot fetch {nowhere}")),
        "{text}"
    );
    assert!(
        text.ends_with("1 passed, 0 warnings, 2 failed, 3 skipped\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_clock_minutes_ahead_fails_the_skew_check_and_names_the_cause() {
    let gateway = FakeGateway::start().await;
    let dir = credentials_file(&gateway, |_| {});
    let report = doctor_with_clock_offset(&dir, 7 * 60).await;
    let text = report.render_text();
    assert!(!report.ok, "{text}");
    let skew = line(&text, "FAIL  clock skew");
    assert!(skew.contains("s ahead of the gateway's"), "{text}");
    assert!(
        skew.contains("more than the verifier's leeway of 30 s"),
        "{text}"
    );
    assert!(
        skew.contains("look expired here and every call fails with 401"),
        "{text}"
    );
    assert!(
        text.contains("→ synchronise this machine's clock (NTP"),
        "{text}"
    );
    let measured = report.get(CheckName::ClockSkew).expect("ran").details["skewSecs"]
        .as_i64()
        .expect("a skew");
    assert!((419..=421).contains(&measured), "{measured}");
    // Everything else still works: only the clock is wrong.
    assert_eq!(status(&report, CheckName::RefreshToken), Status::Pass);
    assert_eq!(status(&report, CheckName::Manifest), Status::Pass);
}

#[tokio::test]
async fn a_clock_a_little_behind_warns_but_does_not_fail() {
    let gateway = FakeGateway::start().await;
    let dir = credentials_file(&gateway, |_| {});
    let report = doctor_with_clock_offset(&dir, -20).await;
    let text = report.render_text();
    assert!(report.ok, "{text}");
    let skew = line(&text, "WARN  clock skew");
    assert!(skew.contains("s behind the gateway's"), "{text}");
    assert!(
        skew.contains("within the verifier's leeway of 30 s"),
        "{text}"
    );
}

#[tokio::test]
async fn an_invalid_manifest_fails_with_the_gateways_reason() {
    let gateway = FakeGateway::start().await;
    gateway.set_reload_answer(ReloadAnswer::Invalid(
        "features.compute.docker: unknown field `dockr`".into(),
    ));
    let dir = credentials_file(&gateway, |_| {});
    let report = doctor_with_clock_offset(&dir, 0).await;
    let text = report.render_text();
    assert!(!report.ok, "{text}");
    assert!(
        line(&text, "FAIL  manifest").contains(
            "the gateway refused the manifest: features.compute.docker: unknown field `dockr`"
        ),
        "{text}"
    );
    assert!(
        text.contains("→ fix the manifest the provider serves"),
        "{text}"
    );
    assert!(line(&text, "PASS  gateway → provider").contains("reached the provider"));
}

#[tokio::test]
async fn manifest_warnings_are_shown_as_a_warning() {
    let gateway = FakeGateway::start().await;
    gateway.set_reload_answer(ReloadAnswer::Parsed {
        warnings: vec!["unknown key `featurs` (ignored)".into()],
    });
    let dir = credentials_file(&gateway, |_| {});
    let report = doctor_with_clock_offset(&dir, 0).await;
    let text = report.render_text();
    assert!(report.ok, "{text}");
    assert!(
        line(&text, "WARN  manifest").contains("with 1 warning(s)"),
        "{text}"
    );
    assert!(
        text.contains("      | warning: unknown key `featurs` (ignored)\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_provider_the_gateway_cannot_reach_fails_the_reachability_check() {
    let gateway = FakeGateway::start().await;
    gateway.set_reload_answer(ReloadAnswer::Unreachable(
        "unreachable: connection refused".into(),
    ));
    let dir = credentials_file(&gateway, |_| {});
    let report = doctor_with_clock_offset(&dir, 0).await;
    let text = report.render_text();
    assert!(!report.ok, "{text}");
    assert!(
        line(&text, "FAIL  gateway → provider").contains("unreachable: connection refused"),
        "{text}"
    );
    assert!(
        text.contains("→ is the provider running (`provider-kit serve`)"),
        "{text}"
    );
    assert_eq!(status(&report, CheckName::Manifest), Status::Skip);
}

#[cfg(unix)]
#[tokio::test]
async fn a_credentials_file_others_can_read_fails_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let gateway = FakeGateway::start().await;
    let dir = credentials_file(&gateway, |_| {});
    let path = dir.join("dev.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let report = doctor_with_clock_offset(&dir, 0).await;
    let text = report.render_text();
    assert!(!report.ok, "{text}");
    assert!(
        line(&text, "FAIL  credentials file").contains("readable by other users (mode 0644)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("→ run `chmod 600 {}`", path.display())),
        "{text}"
    );
    assert!(!text.contains("rt_fake"), "{text}");
    assert!(
        text.ends_with("0 passed, 0 warnings, 1 failed, 5 skipped\n"),
        "{text}"
    );
}

#[tokio::test]
async fn the_binary_prints_the_report_and_fails_on_a_failed_check() {
    let gateway = FakeGateway::start().await;
    let dir = credentials_file(&gateway, |_| {});
    let path = dir.join("dev.json");
    let path = path.to_str().expect("UTF-8 path");
    let (ok, out, err) = process::run(&["doctor", "--credentials", path], &[]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("PASS  refresh token"), "{out}");
    assert!(
        out.contains("6 passed, 0 warnings, 0 failed, 0 skipped"),
        "{out}"
    );

    gateway.set_reload_answer(ReloadAnswer::Invalid("users: missing field".into()));
    let (ok, out, err) = process::run(&["doctor", "--credentials", path, "--json"], &[]).await;
    assert!(!ok, "a failed check fails the command: {out}{err}");
    assert!(err.contains("1 check(s) failed"), "{err}");
    let json: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(json["ok"], false);
    let manifest = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "manifest")
        .expect("a manifest check");
    assert_eq!(manifest["status"], "fail");
    assert!(
        manifest["summary"]
            .as_str()
            .is_some_and(|s| s.contains("users: missing field")),
        "{manifest}"
    );
}

#[tokio::test]
async fn serve_logs_the_start_up_checks() {
    let setup = dev::setup("").await;
    let (clean, log) = setup.provider.terminate().await;
    assert!(clean, "{log}");
    for expected in [
        "the gateway issued an access token for `dev`",
        "publishes 1 signing key(s)",
        "this provider's clock agrees with the gateway's",
    ] {
        assert!(log.contains(expected), "{expected:?} not in:\n{log}");
    }
}
