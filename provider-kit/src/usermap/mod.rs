//! User mapping on the provider (SPEC §4): how a gateway user becomes an account here.
//!
//! - Explicit flow: `http::router(flow)` serves `/ucloud/<id>/usermap` — the gateway's redirect with
//!   a usermap token (`UsermapFlow::start`), the provider's own sign-in through a
//!   `LocalAuthenticator` (`FileAuthenticator` for the dev provider), the confirm page showing who
//!   is being linked to which local account (nothing is recorded before the user's click), the
//!   report with the nonce and the `303` back to the gateway with the completion code from the
//!   report's answer; `POST unlink` when the gateway ends a connection.
//! - Implicit flow: `Accounts::ensure_for(principal)` on a user's first brokered request makes a
//!   local account with the configured `UsernamePolicy` and reports it without a nonce.
//! - `MappingStore` (SQLite) holds mappings and attempts, and the accounts: its own table is the
//!   default `AccountBackend`; with `accounts.backend.ldap` the accounts are made in an LDAP
//!   directory (`LdapBackend`) and recorded here. `export_accounts` writes them as passwd lines.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use provider_kit::usermap::*;
//! # async fn wire(verifier: provider_kit::auth::Verifier, client: provider_kit::client::GatewayClient,
//! #     clock: Arc<dyn provider_kit::auth::Clock>) -> Result<axum::Router, Box<dyn std::error::Error>> {
//! let store = MappingStore::open("provider-data/usermap.db".as_ref()).await?;
//! let accounts = Accounts::new(AccountsConfig::default(), store, clock, Arc::new(client))?;
//! let users = Arc::new(FileAuthenticator::new("provider-data/users.yaml")?);
//! let flow = UsermapFlow::new(verifier, accounts, users, FlowSettings::new("Dev provider"));
//! Ok(router(flow)) // ProviderRouter::usermap(router(flow))
//! # }
//! ```

mod accounts;
mod backend;
mod config;
mod export;
mod flow;
mod http;
mod local_auth;
mod model;
mod names;
mod pending;
mod policy_change;
mod report;
mod store;

#[cfg(test)]
mod tests;

pub use accounts::{AccountError, Accounts, AutoAccount};
pub use backend::{
    AccountBackend, BackendError, BackendFuture, BackendKind, LdapBackend, LdapConfig,
    SqliteBackend,
};
pub use config::{
    AccountsConfig, AccountsConfigError, BackendConfig, IdRange, MIN_ID, PrimaryGroup,
};
pub use export::{
    ExportError, ExportFormat, export_accounts, export_accounts_at, passwd_line, quarantine_line,
};
pub use flow::{
    Completed, Confirmation, FlowError, FlowSettings, MAX_LOGIN_FAILURES, PendingAttempt, Started,
    UsermapFlow,
};
pub use http::{
    ATTEMPT_COOKIE, attempt_id, completed, confirm_redirect, notice, router, router_with_login,
};
pub use local_auth::{
    AuthFuture, AuthenticatorUnavailable, FileAuthenticator, LocalAuthenticator, LocalIdentity,
    MAX_PASSWORD_LEN, MAX_USERNAME_LEN, PasswordError, UsersFileError, hash_password,
};
pub use model::{Alias, LocalAccount, Mapping, PendingConnection, QuarantineEntry};
pub use names::{
    MAX_NAME_LEN, NameSequence, UsernamePolicy, gecos, is_reserved, is_valid_name, slug,
};
pub use pending::{
    MAX_PENDING_COMMENT, OperatorResolves, PendingResolver, Resolution, ResolveFuture, RetryRound,
    run_pending_retries,
};
pub use policy_change::{Collision, PlannedName, PolicyApplied, PolicyPlan};
pub use report::{MappingReporter, ReportFuture};
pub use store::{GatewayRename, IdKind, MappingStore, STORE_FILE, StoreError};
