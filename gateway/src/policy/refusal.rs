//! Why a check of the access gate failed (`Refusal`): the sentence a user reads and the way out
//! the gateway offers, used alike by the broker's problems, `/access` and the web pages.

use super::{Check, Pending, Subject};

/// Why one check failed; each knows its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `invalid`: a required attribute is missing.
    AccountInvalid {
        missing: Vec<&'static str>,
    },
    /// Unknown, or not visible to the user: the two look the same.
    NoSuchProvider(String),
    ProviderInactive {
        provider: String,
        status: &'static str,
    },
    ManifestUnavailable(String),
    NotAMember(String),
    AgreementRequired(Vec<Pending>),
    ConnectionRequired {
        provider: String,
    },
    TwoFactorRequired {
        provider: String,
    },
    AssuranceRequired {
        provider: String,
        missing: Vec<String>,
    },
    /// An earlier check failed, so this one could not be made (no provider, no manifest).
    NotChecked(Check),
}

impl Refusal {
    /// A sentence for the user.
    pub fn reason(&self) -> String {
        match self {
            Self::AccountInvalid { missing } => format!(
                "your account is invalid: it has no {} (an identity provider must release it, or an operator sets it)",
                missing.join(", ")
            ),
            Self::NoSuchProvider(id) => format!("no provider {id:?} is available to you"),
            Self::ProviderInactive { provider, status } => format!(
                "provider {provider} is {status}; it is not brokered until an admin makes it active"
            ),
            Self::ManifestUnavailable(id) => {
                format!("provider {id} has not published a valid manifest yet")
            }
            Self::NotAMember(project) => format!("you are not a member of project {project:?}"),
            Self::AgreementRequired(pending) => {
                let names: Vec<String> = pending
                    .iter()
                    .map(|p| match &p.subject {
                        Subject::Gateway(_) => format!("{:?} version {}", p.title, p.version),
                        Subject::Provider(id) => {
                            format!("{:?} of provider {id}, version {}", p.title, p.version)
                        }
                    })
                    .collect();
                format!("accept first: {}", names.join("; "))
            }
            Self::ConnectionRequired { provider } => {
                format!("provider {provider} requires you to connect your account first")
            }
            Self::TwoFactorRequired { provider } => format!(
                "provider {provider} requires two-factor authentication: sign in with an identity provider that vouches for it (mfa)"
            ),
            Self::AssuranceRequired { provider, missing } => format!(
                "provider {provider} requires the assurance {}: sign in with an identity provider that vouches for it",
                missing.join(", ")
            ),
            Self::NotChecked(earlier) => {
                format!("not checked: the {} check failed", earlier.as_str())
            }
        }
    }

    /// Where the user goes to fix it, on the gateway at `issuer`; `None` when only an admin or
    /// the provider can.
    pub fn action_url(&self, issuer: &str) -> Option<String> {
        match self {
            Self::AccountInvalid { .. } => Some(format!("{issuer}/account")),
            Self::AgreementRequired(pending) => Some(agreements_url(issuer, pending)),
            Self::ConnectionRequired { provider } => Some(connect_url(issuer, provider)),
            Self::TwoFactorRequired { .. } | Self::AssuranceRequired { .. } => {
                Some(format!("{issuer}/login"))
            }
            Self::NoSuchProvider(_) => Some(format!("{issuer}/providers")),
            Self::NotAMember(_) => Some(format!("{issuer}/api/projects")),
            Self::ProviderInactive { .. } | Self::ManifestUnavailable(_) | Self::NotChecked(_) => {
                None
            }
        }
    }
}

/// `/agreements`, naming the provider when its terms are among `pending`.
pub fn agreements_url(issuer: &str, pending: &[Pending]) -> String {
    match pending.iter().find_map(|p| match &p.subject {
        Subject::Provider(id) => Some(id),
        Subject::Gateway(_) => None,
    }) {
        Some(provider) => format!("{issuer}/agreements?provider={provider}"),
        None => format!("{issuer}/agreements"),
    }
}

pub fn connect_url(issuer: &str, provider: &str) -> String {
    format!("{issuer}/connections/new?provider={provider}")
}
