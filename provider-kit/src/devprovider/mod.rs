//! The dev provider (feature `devprovider`): a provider that does real, visible work, built only on
//! this crate's public parts — storage folders per mapped local account and jobs that charge
//! wallets and stop on `402` (SPEC §3, §5), with the whole user mapping of `usermap` (SPEC §4): the
//! `/usermap` connection flow against a users file, and automatic accounts for an implicit manifest.
//! The `provider-kit serve` command and `gateway dev` both run it through `serve`.
//!
//! ```no_run
//! # use provider_kit::devprovider::{DevProviderConfig, serve};
//! # async fn run(refresh_token: String) -> Result<(), provider_kit::devprovider::DevProviderError> {
//! let config = DevProviderConfig::for_gateway(
//!     "http://127.0.0.1:8080", "dev", refresh_token,
//!     "manifests/dev.manifest.yaml", "./provider-data",
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await.map_err(|e| {
//!     provider_kit::devprovider::DevProviderError::Serve(e)
//! })?;
//! serve(config, listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod accounts;
mod config;
mod jobs;
mod no_users;
mod problem;
mod serve;
mod storage;

pub use accounts::project_folder;
pub use config::{DevProviderConfig, ServeConfig, ServeOptions, accounts_section};
pub use jobs::{Job, JobSpec, JobState};
pub use serve::{DevProvider, serve};

use crate::auth::ConfigError;
use crate::client::{ClientConfigError, ClientError, CredentialsError};
use crate::router::ManifestLoadError;
use crate::usermap::{AccountsConfigError, StoreError, UsersFileError};

/// Why the dev provider could not be configured, started or served. Never contains a token.
#[derive(Debug, thiserror::Error)]
pub enum DevProviderError {
    #[error("while reading the config file {path}: {source}")]
    ConfigRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("in the config file {path}: {reason}")]
    ConfigInvalid { path: String, reason: String },
    /// A setting with no value; the message says how to give one.
    #[error("{0}")]
    Missing(&'static str),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("while reading the gateway's issuer and JWKS URL from the credentials: {0}")]
    Verifier(#[from] ConfigError),
    #[error("while reading the gateway URL from the credentials: {0}")]
    Client(#[from] ClientConfigError),
    #[error(transparent)]
    Manifest(#[from] ManifestLoadError),
    #[error("in the accounts settings: {0}")]
    Accounts(#[from] AccountsConfigError),
    #[error("in the users file {0}")]
    UsersFile(#[from] UsersFileError),
    #[error("while opening the mapping store {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
    #[error("while creating the data dir {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The gateway refused this provider's refresh token.
    #[error(
        "{error}; an admin can issue a new one with `gateway providers rotate-token {provider}`"
    )]
    RefreshRejected {
        provider: String,
        error: ClientError,
    },
    #[error("while serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// 128 random bits in hex: job ids (which make `chargeId`s unique across restarts) and temp names.
pub(crate) fn random_hex() -> String {
    use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random generator works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
