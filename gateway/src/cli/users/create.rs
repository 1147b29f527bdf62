//! `gateway users create`, and the `users` command that joins it with the lifecycle commands of
//! `users.rs`.

use crate::accounts::UserInput;
use crate::audit::Actor;
use crate::cli::open::app;
use crate::config::Config;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Read;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create an end-user (or, with --admin, an operator).
    Create(CreateArgs),
    #[command(flatten)]
    Lifecycle(super::LifecycleCommand),
}

#[derive(Args)]
pub struct CreateArgs {
    username: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    first_name: String,
    #[arg(long)]
    last_name: String,
    #[arg(long)]
    organization: Option<String>,
    #[arg(long)]
    admin: bool,
    /// Read the password from standard input (first line).
    #[arg(long)]
    password_stdin: bool,
}

pub async fn users(config: Config, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Create(args) => create(config, args).await,
        UsersCommand::Lifecycle(c) => super::lifecycle(config, c).await,
    }
}

async fn create(config: Config, args: CreateArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("while reading the password from stdin")?;
        Some(text.lines().next().unwrap_or_default().to_owned())
    } else {
        None
    };
    let app = app(config).await?;
    let user = app
        .accounts
        .create_user(UserInput {
            username: args.username,
            email: args.email,
            first_name: args.first_name,
            last_name: args.last_name,
            organization: args.organization,
            admin: args.admin,
            password,
        })
        .await?;
    let detail = serde_json::json!({ "role": user.role.as_str() });
    app.audit
        .record(
            &Actor::Operator,
            crate::audit::AuditAction::UserCreated,
            &user.username,
            detail,
        )
        .await;
    println!(
        "created {} {} (uid {})",
        user.role.as_str().to_lowercase(),
        user.username,
        user.id
    );
    Ok(())
}
