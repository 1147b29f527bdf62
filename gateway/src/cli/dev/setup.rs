//! What `gateway dev` makes once and finds again: the admin, the demo user and their API token, the
//! dev provider (owned by the demo user) and its refresh token, the demo user's wallet, and the dev
//! provider's local user (for the Connect button). The secrets live in a 0600 file in the data dir,
//! since the database and the users file keep only their hashes; nothing that exists is created
//! twice, and an account `gateway dev` did not create is left as it is.

use crate::accounts::{AccountError, UserInput};
use crate::app::App;
use crate::audit::Actor;
use crate::model::{OwnerRef, Provider, ProviderStatus, User};
use crate::registry::RegistryError;
use crate::secrets::{hash_secret, random_bytes};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use provider_kit::protocol::ProviderMetadata;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const ADMIN: &str = "admin";
pub const DEMO: &str = "demo";
pub const PROVIDER: &str = "dev";
/// The dev provider's local account a developer signs in as after pressing Connect.
pub const LOCAL_USER: &str = "demo_local";
/// Units the demo user's wallet at the dev provider starts with.
pub const GRANT_UNITS: i64 = 10_000;
/// The metadata `gateway dev` registers, from `manifests/dev.yaml`; only the port may change.
const METADATA: &str = include_str!("../../../../manifests/dev.yaml");

/// The secrets of `{data_dir}/dev-credentials.json`. No `Debug`: it would print them.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    pub admin_password: Option<String>,
    pub demo_password: Option<String>,
    pub demo_api_token: Option<String>,
    pub provider_refresh_token: Option<String>,
    /// The password of `LOCAL_USER` at the dev provider.
    pub local_user_password: Option<String>,
}

impl Saved {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("dev-credentials.json")
    }

    /// The saved secrets, or none on a first run. A file others can read is made private again.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("while reading {}", path.display())),
        };
        let mode = std::fs::metadata(path)
            .with_context(|| format!("while reading {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the dev credentials file was readable by others; making it private");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("while making {} private", path.display()))?;
        }
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a dev credentials file; move it away to start over",
                path.display()
            )
        })
    }

    /// Writes the file with mode 0600, atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let mut body = serde_json::to_vec_pretty(self).context("while encoding the secrets")?;
        body.push(b'\n');
        write_private(path, &body)
    }
}

/// A new random password: 144 bits, base64url.
fn generate_password() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<18>())
}

/// How a user came to be.
pub enum Found {
    Created,
    Existing,
    /// Exists, but not made by `gateway dev`: its password is unknown here and left alone.
    NotOurs,
}

/// Makes `username` (with the saved password, or a new one) unless it exists.
pub async fn ensure_user(
    app: &App,
    username: &str,
    admin: bool,
    password: &mut Option<String>,
) -> anyhow::Result<(User, Found)> {
    match app.accounts.user(username).await {
        Ok(user) if password.is_some() => return Ok((user, Found::Existing)),
        Ok(user) => return Ok((user, Found::NotOurs)),
        Err(AccountError::NoSuchUser(_)) => {}
        Err(e) => return Err(e).with_context(|| format!("while looking up the user {username}")),
    }
    let chosen = password.get_or_insert_with(generate_password).clone();
    let (first_name, last_name) = if admin {
        ("Ada", "Admin")
    } else {
        ("Demo", "User")
    };
    let user = app
        .accounts
        .create_user(UserInput {
            username: username.to_owned(),
            email: format!("{username}@example.org"),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            organization: None,
            admin,
            password: Some(chosen),
        })
        .await
        .with_context(|| format!("while creating the user {username}"))?;
    let detail = serde_json::json!({ "role": user.role.as_str(), "by": "gateway dev" });
    app.audit
        .record(
            &Actor::Operator,
            crate::audit::AuditAction::UserCreated,
            &user.username,
            detail,
        )
        .await;
    Ok((user, Found::Created))
}

/// The saved API token if it still signs `user` in, else a new one.
pub async fn ensure_api_token(
    app: &App,
    user: &User,
    token: &mut Option<String>,
) -> anyhow::Result<Found> {
    if let Some(saved) = token.as_deref()
        && let Ok(Some(owner)) = app.accounts.user_by_api_token(saved).await
        && owner.id == user.id
    {
        return Ok(Found::Existing);
    }
    let (_, secret) = app
        .accounts
        .create_api_token(user, "gateway dev")
        .await
        .with_context(|| format!("while creating an API token for {}", user.username))?;
    *token = Some(secret.expose().to_owned());
    Ok(Found::Created)
}

/// The dev provider's metadata with its port set to `port`.
pub fn metadata(port: u16) -> anyhow::Result<ProviderMetadata> {
    let embedded: ProviderMetadata =
        serde_yaml::from_str(METADATA).context("the embedded manifests/dev.yaml is invalid")?;
    ProviderMetadata::new(
        embedded.id.as_str(),
        &embedded.domain,
        embedded.https,
        Some(port),
        embedded.env,
    )
    .context("the dev provider's metadata is invalid")
}

/// Registers the dev provider owned by `owner`, or finds it; makes sure `token` is a refresh token
/// the gateway accepts for it (rotating it when the saved one is missing or stale).
pub async fn ensure_provider(
    app: &App,
    owner: &User,
    metadata: ProviderMetadata,
    token: &mut Option<String>,
) -> anyhow::Result<(Provider, Found)> {
    let id = metadata.id.to_string();
    let existing = match app.registry.get_any(&id).await {
        Ok(provider) => provider,
        Err(RegistryError::NotFound(_)) => {
            let (provider, refresh) = app
                .registry
                .register(owner, metadata)
                .await
                .context("while registering the dev provider")?;
            *token = Some(refresh.expose().to_owned());
            return Ok((provider, Found::Created));
        }
        Err(e) => return Err(e).context("while looking up the dev provider"),
    };
    if existing.metadata.port() != metadata.port() {
        anyhow::bail!(
            "the dev provider is registered at port {} and its metadata cannot change; run with \
             `--provider-port {}`, or move {} away to start over",
            existing.metadata.port(),
            existing.metadata.port(),
            app.config.data_dir.display()
        );
    }
    if existing.status != ProviderStatus::Active {
        tracing::warn!(provider = %id, status = existing.status.as_str(), "the dev provider is not active; `gateway providers resume dev` resumes a suspended one");
    }
    let valid = match token.as_deref() {
        Some(saved) => app
            .store
            .provider_by_refresh_hash(&hash_secret(saved))
            .await
            .context("while checking the dev provider's refresh token")?
            .is_some_and(|p| p.metadata.id.as_str() == id),
        None => false,
    };
    if !valid {
        let detail = serde_json::json!({ "by": "gateway dev" });
        let refresh = app
            .registry
            .rotate_refresh_token(&id, &Actor::Operator, detail)
            .await
            .context("while rotating the dev provider's refresh token")?;
        *token = Some(refresh.expose().to_owned());
    }
    let found = if existing.owner_id == owner.id {
        Found::Existing
    } else {
        Found::NotOurs
    };
    Ok((existing, found))
}

/// Makes sure the dev provider's users file at `path` lets `LOCAL_USER` sign in with the saved
/// password: a new password (and file) when none is saved, the file written again when it is missing.
/// The file (mode 0600) holds only the argon2id hash.
pub fn ensure_local_user(path: &Path, password: &mut Option<String>) -> anyhow::Result<Found> {
    let found = if password.is_some() {
        Found::Existing
    } else {
        Found::Created
    };
    if matches!(found, Found::Existing) && path.is_file() {
        return Ok(found);
    }
    let chosen = password.get_or_insert_with(generate_password).clone();
    let hash = provider_kit::usermap::hash_password(&chosen)
        .context("while hashing the dev provider's local password")?;
    let text = format!(
        "# The dev provider's local users (written by `gateway dev`; the password is in \
         dev-credentials.json).\nusers:\n  - username: {LOCAL_USER}\n    password_hash: '{hash}'\n"
    );
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("while creating {}", parent.display()))?;
    }
    write_private(path, text.as_bytes())?;
    Ok(found)
}

/// Writes `body` to `path` with mode 0600, atomically (a temporary file renamed over it).
fn write_private(path: &Path, body: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(body)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("while saving {}", path.display()))
}

/// The demo user's balance at the dev provider, granting `GRANT_UNITS` when they have no wallet.
pub async fn ensure_wallet(app: &App, user: &User, provider: &str) -> anyhow::Result<(i64, Found)> {
    let owner = OwnerRef::Username(user.username.clone());
    let wallets = app
        .accounting
        .wallets_of(&owner)
        .await
        .context("while reading the demo user's wallets")?;
    if let Some(wallet) = wallets.iter().find(|w| w.provider == provider) {
        return Ok((wallet.balance, Found::Existing));
    }
    let wallet = app
        .accounting
        .grant(&Actor::Operator, &owner, provider, GRANT_UNITS)
        .await
        .context("while granting units to the demo user")?;
    Ok((wallet.balance, Found::Created))
}
