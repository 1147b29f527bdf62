//! `provider-kit accounts policy preview|apply --policy P`: the username policy change of
//! `Accounts::plan_policy`/`apply_policy` on a provider's mapping store, printed as `old → new`
//! lines (or JSON).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use provider_kit::auth::SystemClock;
use provider_kit::client::{ClientError, Credentials, GatewayClient};
use provider_kit::protocol::{MappingReport, MappingReportAnswer};
use provider_kit::usermap::{
    Accounts, AccountsConfig, MappingReporter, MappingStore, ReportFuture, STORE_FILE,
};

use crate::{PolicyCommand, StoreArgs};

/// Without credentials the renames are reported later, by `serve`.
struct ReportLater;

impl MappingReporter for ReportLater {
    fn report<'a>(&'a self, _: &'a MappingReport) -> ReportFuture<'a> {
        Box::pin(async {
            Err::<MappingReportAnswer, _>(ClientError::Transport(
                "no --credentials: serve reports it".into(),
            ))
        })
    }
}

pub async fn run(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Preview(args) => {
            let accounts = open(&args.store, None).await?;
            let plan = accounts.plan_policy(args.policy).await?;
            accounts.store().close().await;
            if args.json {
                crate::say(&serde_json::to_string_pretty(&plan)?)
            } else {
                crate::say(plan.render_text().trim_end())
            }
        }
        PolicyCommand::Apply { args, credentials } => {
            let accounts = open(&args.store, credentials).await?;
            let applied = accounts.apply_policy(args.policy).await?;
            accounts.store().close().await;
            if args.json {
                crate::say(&serde_json::to_string_pretty(&applied.plan)?)?;
            } else {
                crate::say(applied.plan.render_text().trim_end())?;
            }
            eprintln!(
                "renamed {}; old names are aliases until the grace period ends; {} not yet reported to the gateway",
                applied.aliases.len(),
                applied.unreported.len()
            );
            Ok(())
        }
    }
}

/// `accounts remove NAME`: prints the ledger line that now holds its name and ids.
pub async fn remove(name: &str, store: &StoreArgs) -> anyhow::Result<()> {
    let accounts = open(store, None).await?;
    let removed = accounts.remove(name).await;
    accounts.store().close().await;
    let entry = removed.with_context(|| format!("while removing {name}"))?;
    crate::say(&provider_kit::usermap::quarantine_line(&entry))
}

/// The `Accounts` of a provider's mapping store (which must exist).
pub async fn open(args: &StoreArgs, credentials: Option<PathBuf>) -> anyhow::Result<Accounts> {
    let (config, file_data_dir) = match &args.config {
        Some(path) => provider_kit::devprovider::accounts_section(path)
            .with_context(|| format!("while reading {}", path.display()))?,
        None => (AccountsConfig::default(), None),
    };
    let data_dir = args
        .data_dir
        .clone()
        .or(file_data_dir)
        .unwrap_or_else(|| PathBuf::from("./provider-data"));
    let path = data_dir.join(STORE_FILE);
    if !path.is_file() {
        bail!(
            "no mapping store at {}: pass --data-dir or --config",
            path.display()
        );
    }
    let store = MappingStore::open_existing(&path)
        .await
        .with_context(|| format!("while opening the mapping store {}", path.display()))?;
    let clock = Arc::new(SystemClock);
    let reporter: Arc<dyn MappingReporter> = match credentials {
        Some(path) => {
            let credentials = Credentials::load(&path)
                .with_context(|| format!("while reading {}", path.display()))?;
            Arc::new(GatewayClient::new(
                credentials.client_config(),
                clock.clone(),
            )?)
        }
        None => Arc::new(ReportLater),
    };
    Ok(Accounts::new(config, store, clock, reporter)?)
}
