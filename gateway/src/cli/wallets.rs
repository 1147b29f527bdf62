//! `gateway wallets grant|list`: grants and balances from the command line, through the same domain
//! calls as `/api/admin/wallets/grant`, audited as `_operator`.

use super::open::app;
use crate::audit::Actor;
use crate::config::Config;
use crate::model::OwnerRef;
use clap::{ArgGroup, Args, Subcommand};

/// Exactly one of --user or --project.
#[derive(Args)]
#[command(group(ArgGroup::new("owner").required(true).args(["user", "project"])))]
pub struct OwnerArgs {
    /// A user's username.
    #[arg(long)]
    user: Option<String>,
    /// A project's id.
    #[arg(long)]
    project: Option<String>,
}

impl OwnerArgs {
    fn owner(self) -> anyhow::Result<OwnerRef> {
        match (self.user, self.project) {
            (Some(u), None) => Ok(OwnerRef::Username(u)),
            (None, Some(p)) => Ok(OwnerRef::Project(p)),
            _ => anyhow::bail!("give exactly one of --user or --project"),
        }
    }
}

#[derive(Subcommand)]
pub enum WalletsCommand {
    /// Add units to the owner's wallet at a provider (created if missing); prints the new balance.
    Grant {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        units: i64,
    },
    /// List the owner's wallets: provider and balance, one per line.
    List {
        #[command(flatten)]
        owner: OwnerArgs,
    },
}

pub async fn wallets(config: Config, command: WalletsCommand) -> anyhow::Result<()> {
    let app = app(config).await?;
    match command {
        WalletsCommand::Grant {
            owner,
            provider,
            units,
        } => {
            let owner = owner.owner()?;
            let wallet = app
                .accounting
                .grant(&Actor::Operator, &owner, &provider, units)
                .await?;
            println!("{}", wallet.balance);
        }
        WalletsCommand::List { owner } => {
            for wallet in app.accounting.wallets_of(&owner.owner()?).await? {
                println!("{}\t{}", wallet.provider, wallet.balance);
            }
        }
    }
    Ok(())
}
