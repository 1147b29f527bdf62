//! `provider-kit accounts`: `hash-password` turns one line of stdin into the argon2id hash a users
//! file holds (the password is never printed or logged), and `export` prints the local accounts of a
//! dev provider's mapping store, e.g. as passwd lines.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::path::Path;

use anyhow::{Context as _, bail};
use provider_kit::usermap::{
    ExportFormat, MAX_PASSWORD_LEN, MappingStore, STORE_FILE, export_accounts, hash_password,
};

use crate::AccountsCommand;

pub async fn run(command: AccountsCommand) -> anyhow::Result<()> {
    match command {
        AccountsCommand::HashPassword => {
            let password = read_password()?;
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .context("the hashing task failed")??;
            crate::say(&hash)
        }
        AccountsCommand::Export { format, data_dir } => export(format, &data_dir).await,
        AccountsCommand::Policy(command) => crate::policy::run(command).await,
        AccountsCommand::Remove { name, store } => crate::policy::remove(&name, &store).await,
    }
}

/// One line of stdin without its line ending; nothing else of it is kept.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("password (it is shown as you type; end with Enter):");
    }
    let mut line = String::new();
    // A line ending may follow the longest password the hash takes.
    let limit = u64::try_from(MAX_PASSWORD_LEN + 2).unwrap_or(u64::MAX);
    stdin
        .lock()
        .take(limit + 1)
        .read_line(&mut line)
        .context("while reading the password from stdin")?;
    let password = line
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&line);
    if password.is_empty() {
        bail!(
            "no password on stdin: pipe one line, e.g. `provider-kit accounts hash-password < file`"
        );
    }
    Ok(password.to_owned())
}

async fn export(format: ExportFormat, data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(STORE_FILE);
    if !path.is_file() {
        bail!(
            "no mapping store at {}: pass the --data-dir the dev provider serves with (it makes \
             {STORE_FILE} there when it starts)",
            path.display()
        );
    }
    let store = MappingStore::open_existing(&path)
        .await
        .with_context(|| format!("while opening the mapping store {}", path.display()))?;
    let exported = export_accounts(&store, format, &mut std::io::stdout()).await;
    store.close().await;
    exported.context("while exporting the local accounts")?;
    Ok(())
}
