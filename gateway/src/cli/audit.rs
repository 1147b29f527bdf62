//! `gateway audit list`: the audit log from the command line, newest first, one event per line.

use super::open::app;
use crate::clock::rfc3339;
use crate::config::Config;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print recent events: time, actor, action, target, detail (tab-separated).
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

pub async fn audit(config: Config, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List { limit } = command;
    let app = app(config).await?;
    for entry in app.audit.list(limit, None).await? {
        let e = &entry.event;
        println!(
            "{}\t{}\t{}\t{}\t{}",
            rfc3339(e.at),
            e.actor,
            e.action,
            e.target,
            e.detail
        );
    }
    Ok(())
}
