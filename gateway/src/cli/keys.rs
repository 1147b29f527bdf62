//! `gateway keys rotate|revoke|import|list`: the signing key ring from the command line, audited as
//! `_operator`.

use super::open::app;
use crate::audit::Actor;
use crate::clock::rfc3339;
use crate::config::Config;
use clap::Subcommand;

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

pub async fn keys(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let app = app(config).await?;
    match command {
        KeysCommand::Rotate { immediate } => {
            let key = app.keys.rotate(app.key_activation(immediate)).await?;
            let detail = serde_json::json!({ "immediate": immediate });
            app.audit
                .record(
                    &Actor::Operator,
                    crate::audit::AuditAction::KeysRotated,
                    &key.kid,
                    detail,
                )
                .await;
            println!("{}", key.kid);
            eprintln!("published now; signing from {}", rfc3339(key.active_from));
        }
        KeysCommand::Revoke { kid } => {
            let revoked = app.keys.revoke(&kid).await?;
            let replaced_by = revoked.replaced_by.as_ref().map(|k| k.kid.as_str());
            let detail = serde_json::json!({ "replacedBy": replaced_by });
            app.audit
                .record(
                    &Actor::Operator,
                    crate::audit::AuditAction::KeysRevoked,
                    &revoked.kid,
                    detail,
                )
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
