//! `gateway providers list|approve|suspend|resume|rotate-token|revoke-token`: the provider
//! lifecycle from the command line, through the same registry calls as `/api/admin/providers/…`,
//! audited as `_operator`.

use super::open::app;
use crate::audit::Actor;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::registry::Action;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ProvidersCommand {
    /// List every provider with its status.
    List,
    /// Approve a production provider waiting for approval.
    Approve { id: String },
    /// Reject a production provider waiting for approval: it becomes suspended (never brokered).
    Reject { id: String },
    /// Suspend an active provider: it is no longer brokered and cannot refresh tokens.
    Suspend { id: String },
    /// Resume a suspended provider.
    Resume { id: String },
    /// Replace the refresh token; prints the new one (the old one stops working at once).
    RotateToken { id: String },
    /// Remove the refresh token until one is rotated in.
    RevokeToken { id: String },
}

pub async fn providers(config: Config, command: ProvidersCommand) -> anyhow::Result<()> {
    let app = app(config).await?;
    let registry = &app.registry;
    let (id, action) = match command {
        ProvidersCommand::List => {
            for p in registry.list_all().await? {
                let m = &p.metadata;
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    m.id,
                    m.env.as_str(),
                    p.status.as_str(),
                    m.namespace_url(),
                    rfc3339(p.created_at)
                );
            }
            return Ok(());
        }
        ProvidersCommand::RotateToken { id } => {
            let detail = serde_json::json!({});
            let refresh = registry
                .rotate_refresh_token(&id, &Actor::Operator, detail)
                .await?;
            println!("{}", refresh.expose());
            return Ok(());
        }
        ProvidersCommand::RevokeToken { id } => {
            registry.revoke_refresh_token(&id, &Actor::Operator).await?;
            println!("revoked the refresh token of {id}");
            return Ok(());
        }
        ProvidersCommand::Approve { id } => (id, Action::Approve),
        ProvidersCommand::Reject { id } => (id, Action::Reject),
        ProvidersCommand::Suspend { id } => (id, Action::Suspend),
        ProvidersCommand::Resume { id } => (id, Action::Resume),
    };
    let provider = registry.apply(&id, action, &Actor::Operator).await?;
    println!(
        "{} is now {}",
        provider.metadata.id,
        provider.status.as_str()
    );
    Ok(())
}
