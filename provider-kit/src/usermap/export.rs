//! `provider-kit accounts export --format passwd`: the local accounts of the mapping store as lines
//! an operator can feed to `/etc/passwd`, `newusers` or an NSS file backend; `--format quarantine`
//! the quarantine ledger (names and ids of removed accounts, held until a date), `--format json`
//! both. Every field was checked
//! when the account was made (names, paths and gecos hold no `:` or newline), so a line is one line.

use std::io::Write;

use super::model::{LocalAccount, QuarantineEntry};
use super::store::{MappingStore, StoreError};
use crate::auth::{Clock as _, SystemClock};

/// Formats `accounts export` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `name:x:uid:gid:gecos:home:shell`
    Passwd,
    /// `name:uid:gid:removed-at:held-until` (dates as RFC 9110 HTTP dates), one per held entry.
    Quarantine,
    /// `{"accounts": [...], "quarantine": [...]}`.
    Json,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "passwd" => Ok(Self::Passwd),
            "quarantine" => Ok(Self::Quarantine),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown export format {other:?}; known: passwd, quarantine, json"
            )),
        }
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

/// One passwd line, without the newline. The password field is `x`: there is none here.
pub fn passwd_line(account: &LocalAccount) -> String {
    let field = |text: &str| text.replace([':', '\n', '\r'], " ");
    format!(
        "{}:x:{}:{}:{}:{}:{}",
        field(&account.name),
        account.uid,
        account.gid,
        field(&account.gecos),
        field(&account.home),
        field(&account.shell)
    )
}

/// One ledger line: `name:uid:gid:removed-at:held-until`.
pub fn quarantine_line(entry: &QuarantineEntry) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        entry.name,
        entry.uid,
        entry.gid,
        http_date(entry.removed_at),
        http_date(entry.until)
    )
}

fn http_date(unix: i64) -> String {
    let secs = u64::try_from(unix).unwrap_or_default();
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Writes every local account, by uid, to `out` in `format` (the ledger as it holds now);
/// returns how many records.
pub async fn export_accounts(
    store: &MappingStore,
    format: ExportFormat,
    out: &mut (dyn Write + Send),
) -> Result<usize, ExportError> {
    export_accounts_at(store, format, SystemClock.now_unix(), out).await
}

/// `export_accounts` with the ledger as it holds at `now`.
pub async fn export_accounts_at(
    store: &MappingStore,
    format: ExportFormat,
    now: i64,
    out: &mut (dyn Write + Send),
) -> Result<usize, ExportError> {
    let count = match format {
        ExportFormat::Passwd => {
            let accounts = store.accounts().await?;
            for account in &accounts {
                writeln!(out, "{}", passwd_line(account))?;
            }
            accounts.len()
        }
        ExportFormat::Quarantine => {
            let held = store.quarantine(now).await?;
            for entry in &held {
                writeln!(out, "{}", quarantine_line(entry))?;
            }
            held.len()
        }
        ExportFormat::Json => {
            let accounts = store.accounts().await?;
            let held = store.quarantine(now).await?;
            let both = serde_json::json!({"accounts": accounts, "quarantine": held});
            writeln!(out, "{both:#}")?;
            accounts.len() + held.len()
        }
    };
    out.flush()?;
    Ok(count)
}
