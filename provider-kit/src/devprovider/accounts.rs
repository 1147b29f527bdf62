//! Who a brokered request is for, on this machine: the gateway's principal (verified by the router's
//! layer) becomes a `Caller` with a local account, and the wallet and folder it works in (the
//! project's when the request names one, SPEC §3). Mapping is implicit (SPEC §4): the account's
//! folder is made on first sight and the mapping reported to the gateway. Issue 6 replaces
//! `local_account` with configurable username policies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::auth::{ServiceRequest, Verifier};
use crate::client::GatewayClient;
use crate::protocol::{MappingReport, WalletOwner};
use aws_lc_rs::digest::{SHA256, digest};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::problem::ApiProblem;

/// The local account for a gateway username: lowercase ASCII letters, digits and `_`, starting with
/// a letter, at most 32 characters. A name that had to change (case, `#`, accents, length) gets 8 hex
/// digits of its SHA-256, so two gateway users never share an account.
pub fn local_account(username: &str) -> String {
    const MAX: usize = 32;
    const HASH_HEX: usize = 8;
    let mut name: String = username
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert(0, 'u');
    }
    if name != username || name.len() > MAX {
        name.truncate(MAX - HASH_HEX - 1);
        let hash = digest(&SHA256, username.as_bytes());
        name.push('_');
        for byte in &hash.as_ref()[..HASH_HEX / 2] {
            name.push_str(&format!("{byte:02x}"));
        }
    }
    name
}

/// The gateway user behind a request, and where their work lives here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    pub account: String,
    pub project: Option<String>,
}

impl Caller {
    pub fn new(username: &str, project: Option<&str>) -> Self {
        Self {
            username: username.to_owned(),
            account: local_account(username),
            project: project.map(str::to_owned),
        }
    }

    /// The wallet work is charged to: the project's when the request named one, else the user's.
    pub fn wallet(&self) -> WalletOwner {
        match &self.project {
            Some(project) => WalletOwner::Project(project.clone()),
            None => WalletOwner::Username(self.username.clone()),
        }
    }

    /// The folder, relative to the data dir, that this caller's storage lives in.
    pub fn space(&self) -> PathBuf {
        match &self.project {
            Some(project) => Path::new("projects").join(local_account(project)),
            None => Path::new("accounts").join(&self.account),
        }
    }
}

/// Local accounts seen by this process, and the reports of their mapping to the gateway.
pub struct Accounts {
    client: Option<GatewayClient>,
    /// account → `None` once reported, or when the last report failed.
    reported: Mutex<HashMap<String, Option<Instant>>>,
}

/// A failed report is retried on a later request, but not more often than this.
const REPORT_RETRY: Duration = Duration::from_secs(300);

impl Accounts {
    /// `client` is `None` in tests that do not report.
    pub fn new(client: Option<GatewayClient>) -> Self {
        Self {
            client,
            reported: Mutex::new(HashMap::new()),
        }
    }

    /// Reports the implicit mapping of `caller` once (in the background, so the request never waits).
    fn seen(self: &Arc<Self>, caller: &Caller) {
        let Some(client) = self.client.clone() else {
            return;
        };
        {
            let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
            match reported.get(&caller.account) {
                Some(None) => return,
                Some(Some(failed)) if failed.elapsed() < REPORT_RETRY => return,
                _ => {}
            }
            reported.insert(caller.account.clone(), None);
        }
        let accounts = Arc::clone(self);
        let report = MappingReport::implicit(&caller.username, &caller.account);
        tokio::spawn(async move {
            match client.report_mapping(&report).await {
                Ok(()) => {
                    tracing::info!(account = %report.local_identity, "reported a new local account")
                }
                Err(error) => {
                    tracing::warn!(account = %report.local_identity, %error, "could not report a local account; will retry");
                    let mut reported = accounts
                        .reported
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    reported.insert(report.local_identity, Some(Instant::now()));
                }
            }
        });
    }
}

/// Why a request has no `Caller`.
pub enum CallerRejection {
    Auth(Response),
    NoPrincipal,
}

impl IntoResponse for CallerRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Auth(response) => response,
            Self::NoPrincipal => ApiProblem::new(
                StatusCode::FORBIDDEN,
                "userRequired",
                "this route acts for a gateway user; the service token carries no principal",
            )
            .into_response(),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Verifier: FromRef<S>,
    Arc<Accounts>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = CallerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let request = ServiceRequest::from_request_parts(parts, state)
            .await
            .map_err(|rejection| CallerRejection::Auth(rejection.into_response()))?;
        let principal = request.principal().ok_or(CallerRejection::NoPrincipal)?;
        let caller = Self::new(&principal.username, request.project());
        Arc::<Accounts>::from_ref(state).seen(&caller);
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_name_is_kept_and_any_changed_name_gets_a_hash_suffix() {
        assert_eq!(local_account("alice"), "alice");
        let dan = local_account("DanSebastianThrane#1234");
        assert!(dan.starts_with("dansebastianthrane_1234_"), "{dan}");
        assert_eq!(dan.len(), 32);
        assert_ne!(local_account("Alice"), local_account("alice"));
        assert_ne!(local_account("a.b"), local_account("a_b"));
    }

    #[test]
    fn every_account_is_a_short_safe_name_even_from_hostile_input() {
        for username in [
            "../../etc",
            "",
            "0day",
            "Ærøskøbing",
            "名前",
            &"x".repeat(300),
            "a/b\0c",
        ] {
            let name = local_account(username);
            assert!(name.len() <= 32, "{name}");
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn a_project_request_works_in_the_projects_wallet_and_folder() {
        let user = Caller::new("alice", None);
        assert_eq!(user.wallet(), WalletOwner::Username("alice".into()));
        assert_eq!(user.space(), Path::new("accounts/alice"));
        let project = Caller::new("alice", Some("p1"));
        assert_eq!(project.wallet(), WalletOwner::Project("p1".into()));
        assert_eq!(project.space(), Path::new("projects/p1"));
    }
}
