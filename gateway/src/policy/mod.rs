//! The access gate (SPEC §9, §3 steps 1 and 3): one function, [`Gate::evaluate`], that decides
//! whether a user may use a provider and says why not. The broker calls it to decide, `GET
//! /api/providers/{id}/access` and the "Why can't I use this?" page call it to explain, and the
//! connect flow asks it before the browser leaves for the provider: there is no second copy of
//! the rules. Every check runs, in the order of §3 (account, provider, project, agreements,
//! connection, twoFactor, assurance); the broker refuses with the first that failed. Everything
//! here reads caches (providers, manifests, acceptances) except what the broker always read
//! from the database: project membership and, for explicit mapping, the connection.

pub mod agreements;
mod refusal;

pub use refusal::{Refusal, agreements_url, connect_url};

pub use agreements::{
    AgreementConfig, AgreementError, Agreements, Pending, Subject, validate as validate_agreements,
};

use crate::connections::Connections;
use crate::manifests::Manifests;
use crate::model::{Provider, ProviderStatus, User};
use crate::projects::Projects;
use crate::registry::{Registry, visible_to};
use provider_kit::protocol::Manifest;
use std::sync::Arc;

/// The checks, in the order the broker applies them (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    Account,
    Provider,
    Project,
    Agreements,
    Connection,
    TwoFactor,
    Assurance,
}

impl Check {
    pub const ALL: [Check; 7] = [
        Check::Account,
        Check::Provider,
        Check::Project,
        Check::Agreements,
        Check::Connection,
        Check::TwoFactor,
        Check::Assurance,
    ];

    /// The wire name (`checks[].check`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Provider => "provider",
            Self::Project => "project",
            Self::Agreements => "agreements",
            Self::Connection => "connection",
            Self::TwoFactor => "twoFactor",
            Self::Assurance => "assurance",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub check: Check,
    /// What passed, when it did.
    pub passed: Option<&'static str>,
    pub refusal: Option<Refusal>,
}

/// Every check, in order, and what the broker needs to go on.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub outcomes: Vec<Outcome>,
    pub provider: Option<Arc<Provider>>,
    pub manifest: Option<Arc<Manifest>>,
}

impl Evaluation {
    /// True exactly when the broker forwards (a feature the manifest enables).
    pub fn allowed(&self) -> bool {
        self.outcomes.iter().all(|o| o.refusal.is_none())
    }

    /// The first failed check before `check` (the broker routes the feature in between).
    pub fn refused_before(&self, check: Check) -> Option<&Refusal> {
        self.outcomes
            .iter()
            .filter(|o| o.check < check)
            .find_map(|o| o.refusal.as_ref())
    }

    /// The first failed check.
    pub fn refusal(&self) -> Option<&Refusal> {
        self.outcomes.iter().find_map(|o| o.refusal.as_ref())
    }

    pub fn outcome(&self, check: Check) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.check == check)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the access gate could not read {0}")]
pub struct GateError(pub String);

/// What the gate reads; owned, so the broker does not reach into `App`.
#[derive(Clone)]
pub struct Gate {
    pub registry: Registry,
    pub projects: Projects,
    pub manifests: Arc<Manifests>,
    pub connections: Connections,
    pub agreements: Agreements,
}

fn registry_store_error(e: crate::registry::RegistryError) -> crate::store::StoreError {
    match e {
        crate::registry::RegistryError::Store(s) => s,
        other => crate::store::StoreError::Corrupt(other.to_string()),
    }
}

/// The attributes an account must have (`invalid` otherwise).
pub fn missing_attributes(user: &User) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if user.email.trim().is_empty() {
        missing.push("email");
    }
    missing
}

impl Gate {
    /// Runs every check for `user` at provider `id`, optionally in `project`.
    pub async fn evaluate(
        &self,
        user: &User,
        id: &str,
        project: Option<&str>,
    ) -> Result<Evaluation, GateError> {
        let mut outcomes = Vec::with_capacity(Check::ALL.len());
        let mut push = |check: Check, passed: &'static str, refusal: Option<Refusal>| {
            outcomes.push(Outcome {
                check,
                passed: if refusal.is_none() {
                    Some(passed)
                } else {
                    None
                },
                refusal,
            })
        };

        let missing = missing_attributes(user);
        push(
            Check::Account,
            "your account is active",
            (!missing.is_empty()).then_some(Refusal::AccountInvalid { missing }),
        );

        let provider = self
            .registry
            .cached(id)
            .await
            .map_err(|e| GateError(format!("provider {id}: {e}")))?
            .filter(|p| visible_to(user, p));
        let manifest = provider.as_ref().and_then(|_| self.manifests.current(id));
        let provider_refusal = match (&provider, &manifest) {
            (None, _) => Some(Refusal::NoSuchProvider(id.to_owned())),
            (Some(p), _) if p.status != ProviderStatus::Active => Some(Refusal::ProviderInactive {
                provider: id.to_owned(),
                status: p.status.as_str(),
            }),
            (Some(_), None) => Some(Refusal::ManifestUnavailable(id.to_owned())),
            (Some(_), Some(_)) => None,
        };
        let usable = provider_refusal.is_none();
        push(Check::Provider, "the provider is active", provider_refusal);

        let project_refusal = match project {
            Some(project) => {
                let member = self
                    .projects
                    .is_member(user.id, project)
                    .await
                    .map_err(|e| GateError(format!("project membership: {e}")))?;
                (!member).then(|| Refusal::NotAMember(project.to_owned()))
            }
            None => None,
        };
        push(
            Check::Project,
            if project.is_some() {
                "you are a member of the project"
            } else {
                "no project chosen: your own workspace"
            },
            project_refusal,
        );

        let users = manifest.as_ref().map(|m| &m.users);
        let terms = users.and_then(|u| u.terms.as_ref()).map(|t| (id, t));
        let pending = self
            .agreements
            .pending(user, if usable { terms } else { None })
            .await
            .map_err(|e| GateError(format!("agreements: {e}")))?;
        push(
            Check::Agreements,
            "every agreement is accepted",
            (!pending.is_empty()).then_some(Refusal::AgreementRequired(pending)),
        );

        let Some(users) = users.filter(|_| usable) else {
            for check in [Check::Connection, Check::TwoFactor, Check::Assurance] {
                push(check, "", Some(Refusal::NotChecked(Check::Provider)));
            }
            return Ok(Evaluation {
                outcomes,
                provider,
                manifest,
            });
        };
        // A store error is a 500, not "not connected": a 403 here once hid a PostgreSQL type error.
        let connection_refusal = if users.require_explicit_mapping {
            let ok = self
                .connections
                .is_ok(user, id)
                .await
                .map_err(|e| GateError(format!("connection: {e}")))?;
            (!ok).then(|| Refusal::ConnectionRequired {
                provider: id.to_owned(),
            })
        } else {
            None
        };
        push(
            Check::Connection,
            if users.require_explicit_mapping {
                "your account is connected"
            } else {
                "the provider connects accounts on first use"
            },
            connection_refusal,
        );
        push(
            Check::TwoFactor,
            if users.require_two_factor {
                "you signed in with two factors"
            } else {
                "not required"
            },
            (users.require_two_factor && !user.federated.two_factor).then(|| {
                Refusal::TwoFactorRequired {
                    provider: id.to_owned(),
                }
            }),
        );
        let missing: Vec<String> = users
            .require_assurance
            .iter()
            .filter(|uri| !user.federated.assurance.contains(uri))
            .cloned()
            .collect();
        push(
            Check::Assurance,
            if users.require_assurance.is_empty() {
                "not required"
            } else {
                "your identity provider vouches for every required assurance"
            },
            (!missing.is_empty()).then(|| Refusal::AssuranceRequired {
                provider: id.to_owned(),
                missing,
            }),
        );
        Ok(Evaluation {
            outcomes,
            provider,
            manifest,
        })
    }

    /// `user` accepts `version` of `subject`: a gateway agreement, or the terms of a provider the
    /// user sees. Refused unless `version` is the current one.
    pub async fn accept(
        &self,
        user: &User,
        subject: &Subject,
        version: &str,
    ) -> Result<i64, AgreementError> {
        let current = match subject {
            Subject::Gateway(id) => self.agreements.current_version(id)?.to_owned(),
            Subject::Provider(id) => {
                let visible = self
                    .registry
                    .cached(id)
                    .await
                    .map_err(|e| AgreementError::Store(registry_store_error(e)))?
                    .is_some_and(|p| visible_to(user, &p));
                if !visible {
                    return Err(AgreementError::NoSuchProvider(id.clone()));
                }
                self.manifests
                    .current(id)
                    .and_then(|m| m.users.terms.as_ref().map(|t| t.version.clone()))
                    .ok_or_else(|| AgreementError::NoTerms(id.clone()))?
            }
        };
        self.agreements
            .accept(user, subject, version, &current)
            .await
    }

    /// What the connect flow requires before the browser leaves for the provider (SPEC §9): the
    /// same evaluation, its account, agreements (the provider's terms among them), two-factor and
    /// assurance checks. Provider state is the connect flow's own business (it connects to any
    /// provider the user sees).
    pub async fn before_connect(
        &self,
        user: &User,
        id: &str,
    ) -> Result<Option<Refusal>, GateError> {
        let evaluation = self.evaluate(user, id, None).await?;
        Ok(evaluation
            .outcomes
            .into_iter()
            .filter(|o| {
                matches!(
                    o.check,
                    Check::Account | Check::Agreements | Check::TwoFactor | Check::Assurance
                )
            })
            .find_map(|o| o.refusal.filter(|r| !matches!(r, Refusal::NotChecked(_)))))
    }
}
