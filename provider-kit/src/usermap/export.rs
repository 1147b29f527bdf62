//! `provider-kit accounts export --format passwd`: the local accounts of the mapping store as lines
//! an operator can feed to `/etc/passwd`, `newusers` or an NSS file backend. Every field was checked
//! when the account was made (names, paths and gecos hold no `:` or newline), so a line is one line.

use std::io::Write;

use super::model::LocalAccount;
use super::store::{MappingStore, StoreError};

/// Formats `accounts export` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `name:x:uid:gid:gecos:home:shell`
    Passwd,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "passwd" => Ok(Self::Passwd),
            other => Err(format!("unknown export format {other:?}; known: passwd")),
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

/// Writes every local account, by uid, to `out` in `format`; returns how many.
pub async fn export_accounts(
    store: &MappingStore,
    format: ExportFormat,
    out: &mut (dyn Write + Send),
) -> Result<usize, ExportError> {
    let accounts = store.accounts().await?;
    match format {
        ExportFormat::Passwd => {
            for account in &accounts {
                writeln!(out, "{}", passwd_line(account))?;
            }
        }
    }
    out.flush()?;
    Ok(accounts.len())
}
