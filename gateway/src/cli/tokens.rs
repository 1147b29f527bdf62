//! `gateway tokens create|list|revoke`: personal API tokens from the command line.

use super::open::app;
use crate::config::Config;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Print a new personal API token, alone on its line.
    Create {
        username: String,
        #[arg(long)]
        name: String,
    },
    /// List a user's API tokens: id, name, created (never the secret).
    List { username: String },
    /// Revoke the API token ID at once, whoever holds it.
    Revoke { id: String },
}

pub async fn tokens(config: Config, command: TokensCommand) -> anyhow::Result<()> {
    let app = app(config).await?;
    match command {
        TokensCommand::Create { username, name } => {
            let user = app.accounts.user(&username).await?;
            let (_, secret) = app.accounts.create_api_token(&user, &name).await?;
            println!("{}", secret.expose());
        }
        TokensCommand::List { username } => {
            let user = app.accounts.user(&username).await?;
            for token in app.accounts.api_tokens(&user).await? {
                println!(
                    "{}\t{}\t{}",
                    token.id,
                    token.name,
                    crate::clock::rfc3339(token.created_at)
                );
            }
        }
        TokensCommand::Revoke { id } => {
            let user = app.accounts.revoke_api_token(&id).await?;
            println!("revoked token {id} of {}", user.username);
        }
    }
    Ok(())
}
