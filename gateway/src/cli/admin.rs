//! Operator commands: users, API tokens, providers, keys, migrations.

use crate::accounts::UserInput;
use crate::app::{App, AppState};
use crate::audit::{Actor, provider_action};
use crate::clock::{SystemClock, rfc3339};
use crate::config::Config;
use crate::registry::Action;
use crate::store::Store;
use anyhow::Context;
use clap::Subcommand;
use std::io::Read;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create an end-user (or, with --admin, an operator).
    Create {
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
    },
    #[command(flatten)]
    Lifecycle(super::users::LifecycleCommand),
}

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

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key and make it current; the old one stays published until its tokens expire.
    Rotate {
        /// Sign with the new key at once (the current key is compromised) instead of after
        /// `key_activation_secs`, which gives providers time to see it in the JWKS.
        #[arg(long)]
        immediate: bool,
    },
    /// Take a key out of the JWK Set at once (it leaked); a key that signs is first replaced by a
    /// new key that signs at once. Running gateways drop it within a second (the change feed).
    Revoke {
        /// A kid may start with `-` (base64url): taken as the value, not an option.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Import legacy key files (`key-{kid}.pem`, from before keys moved into the database) into the
    /// database, encrypted under the key-encryption key. Start does this for `data_dir/keys` by itself.
    Import {
        /// Folder holding the key files; default `data_dir/keys`.
        dir: Option<std::path::PathBuf>,
    },
    /// List the published keys.
    List,
}

pub(super) async fn app(config: Config) -> anyhow::Result<AppState> {
    let issuer = config.issuer(None);
    App::build(config, issuer, Arc::new(SystemClock)).await
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let url = config.database_url();
    let store = Store::connect_without_migrating(&url)
        .await
        .context("while opening the database")?;
    let applied = store.migrate().await.context("while migrating")?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        println!("applied migrations {applied:?}");
    }
    Ok(())
}

pub async fn users(config: Config, command: UsersCommand) -> anyhow::Result<()> {
    let (username, email, first_name, last_name, organization, admin, password_stdin) =
        match command {
            UsersCommand::Create {
                username,
                email,
                first_name,
                last_name,
                organization,
                admin,
                password_stdin,
            } => (
                username,
                email,
                first_name,
                last_name,
                organization,
                admin,
                password_stdin,
            ),
            UsersCommand::Lifecycle(c) => return super::users::lifecycle(config, c).await,
        };
    let password = if password_stdin {
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
            username,
            email,
            first_name,
            last_name,
            organization,
            admin,
            password,
        })
        .await?;
    let detail = serde_json::json!({ "role": user.role.as_str() });
    app.audit
        .record(&Actor::Operator, "user.created", &user.username, detail)
        .await;
    println!(
        "created {} {} (uid {})",
        user.role.as_str().to_lowercase(),
        user.username,
        user.id
    );
    Ok(())
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
            println!("{}", registry.rotate_refresh_token(&id).await?.expose());
            let detail = serde_json::json!({});
            app.audit
                .record(
                    &Actor::Operator,
                    "provider.refreshTokenRotated",
                    &id,
                    detail,
                )
                .await;
            return Ok(());
        }
        ProvidersCommand::RevokeToken { id } => {
            registry.revoke_refresh_token(&id).await?;
            let detail = serde_json::json!({});
            app.audit
                .record(
                    &Actor::Operator,
                    "provider.refreshTokenRevoked",
                    &id,
                    detail,
                )
                .await;
            println!("revoked the refresh token of {id}");
            return Ok(());
        }
        ProvidersCommand::Approve { id } => (id, Action::Approve),
        ProvidersCommand::Reject { id } => (id, Action::Reject),
        ProvidersCommand::Suspend { id } => (id, Action::Suspend),
        ProvidersCommand::Resume { id } => (id, Action::Resume),
    };
    let provider = registry.apply(&id, action).await?;
    let detail = serde_json::json!({ "status": provider.status.as_str() });
    app.audit
        .record(&Actor::Operator, provider_action(action), &id, detail)
        .await;
    println!(
        "{} is now {}",
        provider.metadata.id,
        provider.status.as_str()
    );
    Ok(())
}

pub async fn keys(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let app = app(config).await?;
    match command {
        KeysCommand::Rotate { immediate } => {
            let key = app.keys.rotate(app.key_activation(immediate)).await?;
            let detail = serde_json::json!({ "immediate": immediate });
            app.audit
                .record(&Actor::Operator, "keys.rotated", &key.kid, detail)
                .await;
            println!("{}", key.kid);
            eprintln!("published now; signing from {}", rfc3339(key.active_from));
        }
        KeysCommand::Revoke { kid } => {
            let revoked = app.keys.revoke(&kid).await?;
            let replaced_by = revoked.replaced_by.as_ref().map(|k| k.kid.as_str());
            let detail = serde_json::json!({ "replacedBy": replaced_by });
            app.audit
                .record(&Actor::Operator, "keys.revoked", &revoked.kid, detail)
                .await;
            println!("revoked {}", revoked.kid);
            if let Some(new) = &revoked.replaced_by {
                println!("new signing key {} (signs now)", new.kid);
            }
            eprintln!(
                "removed from the JWK Set; running gateways drop it within a second (the change feed)"
            );
        }
        KeysCommand::Import { dir } => {
            let dir = dir.unwrap_or_else(|| app.config.keys_dir());
            let report = app.keys.import_legacy(&dir).await?;
            for kid in &report.imported {
                println!("imported {kid}");
            }
            eprintln!(
                "{}: {} imported, {} already in the database, {} not known (or revoked) and left alone; \
                 the key-encryption key comes from {}",
                dir.display(),
                report.imported.len(),
                report.present.len(),
                report.unknown.len(),
                app.keys.kek_source()
            );
        }
        KeysCommand::List => {
            let current = app.keys.current_kid();
            for key in app.keys.jwks().keys {
                let mark = if Some(&key.kid) == current.as_ref() {
                    "current"
                } else {
                    "retired"
                };
                println!("{}\t{mark}", key.kid);
            }
        }
    }
    Ok(())
}
