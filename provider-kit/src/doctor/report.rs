//! What `doctor` found: one `Check` per question (credentials, refresh token, JWKS, clock skew,
//! manifest, reachability), each with a status, a one-line summary and the way out, printed as
//! aligned lines for people or as JSON for scripts. Any `fail` makes the run fail.

use serde::Serialize;

/// The questions `doctor` answers, in the order it asks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckName {
    Credentials,
    RefreshToken,
    Jwks,
    ClockSkew,
    Manifest,
    ProviderReachable,
    /// The quarantine ledger of the mapping store (`--data-dir`): information, never a failure
    /// unless the store cannot be read.
    Quarantine,
    /// The provider's own TLS certificate (`--tls-cert`): names and expiry.
    TlsCertificate,
}

impl CheckName {
    /// The label on the printed line.
    pub fn label(self) -> &'static str {
        match self {
            Self::Credentials => "credentials file",
            Self::RefreshToken => "refresh token",
            Self::Jwks => "gateway JWKS",
            Self::ClockSkew => "clock skew",
            Self::Manifest => "manifest",
            Self::ProviderReachable => "gateway → provider",
            Self::Quarantine => "quarantine ledger",
            Self::TlsCertificate => "TLS certificate",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Pass,
    /// Works, but something needs attention.
    Warn,
    Fail,
    /// Not asked, because an earlier check failed.
    Skip,
}

impl Status {
    fn tag(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// One answered question.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub check: CheckName,
    pub status: Status,
    pub summary: String,
    /// What to do about a `warn` or `fail` (or why a check was skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Further lines: the gateway's manifest warnings, the manifest as it parsed it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Machine-readable facts (e.g. the measured skew), for `--json`.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

impl Check {
    pub fn new(check: CheckName, status: Status, summary: impl Into<String>) -> Self {
        Self {
            check,
            status,
            summary: summary.into(),
            fix: None,
            notes: Vec::new(),
            details: serde_json::Value::Null,
        }
    }

    pub fn pass(check: CheckName, summary: impl Into<String>) -> Self {
        Self::new(check, Status::Pass, summary)
    }

    pub fn fail(check: CheckName, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Status::Fail, summary).with_fix(fix)
    }

    pub fn warn(check: CheckName, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Status::Warn, summary).with_fix(fix)
    }

    pub fn skip(check: CheckName, because: impl Into<String>) -> Self {
        Self::new(check, Status::Skip, because)
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn with_notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// Logs the check at the level its status deserves (`serve` start-up).
    pub fn log(&self) {
        let fix = self.fix.as_deref().unwrap_or("");
        match self.status {
            Status::Pass => tracing::info!(check = self.check.label(), "{}", self.summary),
            Status::Skip => tracing::debug!(check = self.check.label(), "{}", self.summary),
            Status::Warn | Status::Fail => {
                tracing::warn!(check = self.check.label(), fix, "{}", self.summary);
            }
        }
    }
}

/// Every check of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Self {
        let ok = checks.iter().all(|c| c.status != Status::Fail);
        Self { ok, checks }
    }

    pub fn get(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.check == name)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The report for people: one line per check, the way out under it, a count at the end.
    pub fn render_text(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.check.label().chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for check in &self.checks {
            let label = check.check.label();
            let pad = " ".repeat(width - label.chars().count());
            out.push_str(&format!(
                "{}  {label}{pad}  {}\n",
                check.status.tag(),
                check.summary
            ));
            for note in &check.notes {
                for line in note.lines() {
                    out.push_str(&format!("      | {line}\n"));
                }
            }
            if let Some(fix) = &check.fix {
                out.push_str(&format!("      → {fix}\n"));
            }
        }
        out.push_str(&format!(
            "{} passed, {} warnings, {} failed, {} skipped\n",
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skip)
        ));
        out
    }

    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_fails_the_report_and_warnings_do_not() {
        let warned = Report::new(vec![
            Check::pass(CheckName::Jwks, "2 keys"),
            Check::warn(CheckName::ClockSkew, "12 s", "sync"),
        ]);
        assert!(warned.ok);
        let failed = Report::new(vec![
            Check::pass(CheckName::Jwks, "2 keys"),
            Check::fail(CheckName::RefreshToken, "refused", "rotate"),
        ]);
        assert!(!failed.ok);
    }

    #[test]
    fn the_text_shows_each_status_its_fix_and_the_counts() {
        let report = Report::new(vec![
            Check::pass(CheckName::Jwks, "2 keys"),
            Check::fail(CheckName::RefreshToken, "refused", "rotate it"),
        ]);
        let text = report.render_text();
        assert!(text.contains("PASS  gateway JWKS   2 keys\n"), "{text}");
        assert!(
            text.contains("FAIL  refresh token  refused\n      → rotate it\n"),
            "{text}"
        );
        assert!(
            text.ends_with("1 passed, 0 warnings, 1 failed, 0 skipped\n"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.render_json()).expect("JSON");
        assert_eq!(json["ok"], false);
        assert_eq!(json["checks"][1]["check"], "refreshToken");
        assert_eq!(json["checks"][1]["status"], "fail");
    }
}
