//! Who a brokered request is for, on this machine: the gateway's principal (verified by the router's
//! layer) becomes a `Caller` acting as its mapped local account (SPEC §4), working in the wallet and
//! folder of the project when the request names one (SPEC §3). An unmapped user gets an account
//! from `usermap::Accounts::ensure_for` when the served manifest maps implicitly, and `403
//! connectionRequired` when it says `requireExplicitMapping: true`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::auth::{ServiceRequest, Verifier};
use crate::protocol::{Principal, WalletOwner};
use crate::router::ManifestSource;
use crate::usermap::{self, AccountError, AutoAccount, is_valid_name};
use aws_lc_rs::digest::{SHA256, digest};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::problem::ApiProblem;

/// The gateway user behind a request, and where their work lives here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    /// The mapped local account: a valid POSIX name (`^[a-z_][a-z0-9_-]*$`, at most 32).
    pub account: String,
    pub project: Option<String>,
}

impl Caller {
    /// The wallet work is charged to: the project's when the request named one, else the user's.
    pub fn wallet(&self) -> WalletOwner {
        match &self.project {
            Some(project) => WalletOwner::Project(project.clone()),
            None => WalletOwner::Username(self.username.clone()),
        }
    }

    /// The folder, relative to the data dir, that this caller's storage lives in:
    /// `storage/<local account>`, or `projects/<project>` for a project's request.
    pub fn space(&self) -> PathBuf {
        match &self.project {
            Some(project) => Path::new("projects").join(project_folder(project)),
            None => Path::new("storage").join(&self.account),
        }
    }
}

/// A project's folder name: lowercase ASCII letters, digits and `_`, starting with a letter, at most
/// 32 characters. A name that had to change gets 8 hex digits of its SHA-256, so two projects never
/// share a folder.
pub fn project_folder(project: &str) -> String {
    const MAX: usize = 32;
    const HASH_HEX: usize = 8;
    let mut name: String = project
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
    if name != project || name.len() > MAX {
        name.truncate(MAX - HASH_HEX - 1);
        let hash = digest(&SHA256, project.as_bytes());
        name.push('_');
        for byte in &hash.as_ref()[..HASH_HEX / 2] {
            name.push_str(&format!("{byte:02x}"));
        }
    }
    name
}

/// Finds (or, for an implicit manifest, makes) the local account of a gateway user.
pub struct Mapper {
    accounts: usermap::Accounts,
    manifest: ManifestSource,
    /// Users whose mapping the gateway has not taken yet → when a report was last tried.
    retried: Mutex<HashMap<String, Instant>>,
}

/// An unreported mapping is reported again on a later request, but not more often than this.
const REPORT_RETRY: Duration = Duration::from_secs(300);

impl Mapper {
    pub fn new(accounts: usermap::Accounts, manifest: ManifestSource) -> Self {
        Self {
            accounts,
            manifest,
            retried: Mutex::new(HashMap::new()),
        }
    }

    /// The local account `principal` acts as here.
    pub async fn account_of(&self, principal: &Principal) -> Result<String, ApiProblem> {
        let store = self.accounts.store();
        let mapped = store
            .mapping(&principal.username)
            .await
            .map_err(|e| ApiProblem::internal("cannot read the mapping store", &e))?;
        let account = match mapped {
            Some(mapping) => {
                if mapping.reported_at.is_none() {
                    self.report_again(principal);
                }
                mapping.account.name
            }
            None => self.first_sight(principal).await?,
        };
        if !is_valid_name(&account) {
            return Err(ApiProblem::internal(
                "the mapping store holds an invalid account name",
                &account,
            ));
        }
        Ok(account)
    }

    /// An unmapped user: refused on an explicit manifest, given an account on an implicit one.
    async fn first_sight(&self, principal: &Principal) -> Result<String, ApiProblem> {
        let manifest = self
            .manifest
            .load()
            .await
            .map_err(|e| ApiProblem::internal("cannot read the manifest", &e))?;
        if manifest.users.require_explicit_mapping {
            return Err(ApiProblem::new(
                StatusCode::FORBIDDEN,
                "connectionRequired",
                "you have no account at this provider yet: connect one at the gateway first \
                 (Providers → Connect, or POST /api/connections)",
            ));
        }
        match self.accounts.ensure_for(principal).await {
            Ok(AutoAccount::Existing(mapping) | AutoAccount::Created(mapping)) => {
                if mapping.reported_at.is_none() {
                    self.tried_now(&principal.username);
                }
                Ok(mapping.account.name)
            }
            Ok(AutoAccount::PendingLinking { .. }) => Err(ApiProblem::new(
                StatusCode::FORBIDDEN,
                "pendingAccountLinking",
                self.accounts.config().pending_comment.clone(),
            )),
            Err(error @ (AccountError::RangeExhausted { .. } | AccountError::NamesExhausted)) => {
                Err(ApiProblem::internal("no local account can be made", &error))
            }
            Err(error) => Err(ApiProblem::internal("cannot make a local account", &error)),
        }
    }

    fn tried_now(&self, username: &str) {
        let mut retried = self.retried.lock().unwrap_or_else(PoisonError::into_inner);
        retried.insert(username.to_owned(), Instant::now());
    }

    /// Reports an unreported mapping again in the background (the request does not wait), at most
    /// once per `REPORT_RETRY` per user.
    fn report_again(&self, principal: &Principal) {
        {
            let mut retried = self.retried.lock().unwrap_or_else(PoisonError::into_inner);
            if retried
                .get(&principal.username)
                .is_some_and(|at| at.elapsed() < REPORT_RETRY)
            {
                return;
            }
            retried.insert(principal.username.clone(), Instant::now());
        }
        let accounts = self.accounts.clone();
        let principal = principal.clone();
        tokio::spawn(async move {
            if let Err(error) = accounts.ensure_for(&principal).await {
                tracing::warn!(%error, "could not report a mapping again");
            }
        });
    }
}

/// Why a request has no `Caller`.
pub enum CallerRejection {
    Auth(Response),
    NoPrincipal,
    Unmapped(ApiProblem),
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
            Self::Unmapped(problem) => problem.into_response(),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Verifier: FromRef<S>,
    Arc<Mapper>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = CallerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let request = ServiceRequest::from_request_parts(parts, state)
            .await
            .map_err(|rejection| CallerRejection::Auth(rejection.into_response()))?;
        let principal = request.principal().ok_or(CallerRejection::NoPrincipal)?;
        let account = Arc::<Mapper>::from_ref(state)
            .account_of(principal)
            .await
            .map_err(CallerRejection::Unmapped)?;
        Ok(Self {
            username: principal.username.clone(),
            account,
            project: request.project().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_project_keeps_its_name_and_any_changed_name_gets_a_hash_suffix() {
        assert_eq!(project_folder("p1"), "p1");
        let long = project_folder("DanSebastianThrane#1234");
        assert!(long.starts_with("dansebastianthrane_1234_"), "{long}");
        assert_eq!(long.len(), 32);
        assert_ne!(project_folder("P1"), project_folder("p1"));
        assert_ne!(project_folder("a.b"), project_folder("a_b"));
    }

    #[test]
    fn every_project_folder_is_a_short_safe_name_even_from_hostile_input() {
        for project in [
            "../../etc",
            "",
            "0day",
            "Ærøskøbing",
            "名前",
            &"x".repeat(300),
            "a/b\0c",
        ] {
            let name = project_folder(project);
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
    fn a_user_works_under_their_local_account_and_a_project_in_its_own_wallet_and_folder() {
        let user = Caller {
            username: "alice".into(),
            account: "asmith".into(),
            project: None,
        };
        assert_eq!(user.wallet(), WalletOwner::Username("alice".into()));
        assert_eq!(user.space(), Path::new("storage/asmith"));
        let project = Caller {
            project: Some("p1".into()),
            ..user
        };
        assert_eq!(project.wallet(), WalletOwner::Project("p1".into()));
        assert_eq!(project.space(), Path::new("projects/p1"));
    }
}
