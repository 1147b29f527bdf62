//! Plain records shared by the domain modules and the store. No behaviour, no framework types
//! (a provider's address is kept parsed, as `http`'s URI parts: plain values).

use provider_kit::protocol::{ProviderEnv, ProviderMetadata};

mod accounting;
mod audit;
mod connections;
mod identities;
mod lifecycle;
mod projects;

pub use accounting::{
    ChargeOutcome, ChargeRecord, ChargeResult, NewCharge, Owner, OwnerRef, Wallet,
};
pub use audit::{AuditEntry, AuditEvent};
pub use connections::{Attempt, Connection, ConnectionState, Reported, parse_state, state_str};
pub use identities::{Identity, OidcAttempt, VerifiedIdentity};
pub use lifecycle::{AccountStateRecord, AccountStatus};
pub use projects::{Member, Project, ProjectRole};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Admin => "ADMIN",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "ADMIN" {
            Self::Admin
        } else {
            Self::User
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: Option<String>,
    pub role: Role,
    pub created_at: i64,
    /// What the identity provider of the last federated sign-in vouched for (SPEC §8).
    pub federated: FederatedClaims,
}

/// The principal's §8 fields. A local account keeps the defaults: no assurance, no IdP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FederatedClaims {
    pub assurance: Vec<String>,
    pub two_factor: bool,
    pub identity_provider: Option<String>,
    pub site_username: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: Option<String>,
    pub role: Role,
    /// An argon2id PHC string, never the password.
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderStatus {
    PendingApproval,
    Active,
    Suspended,
}

impl ProviderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "pendingApproval",
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pendingApproval" => Some(Self::PendingApproval),
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub metadata: ProviderMetadata,
    /// The metadata's namespace URL, parsed once when the record is read: what the broker sends
    /// each request to.
    pub upstream: UpstreamBase,
    pub status: ProviderStatus,
    pub owner_id: i64,
    pub has_refresh_token: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Provider {
    pub fn is_test(&self) -> bool {
        self.metadata.env == ProviderEnv::Test
    }
}

/// A provider's namespace URL (`{scheme}://{host}[:{port}]/ucloud/{id}`) in parts.
#[derive(Debug, Clone)]
pub struct UpstreamBase {
    pub scheme: http::uri::Scheme,
    pub authority: http::uri::Authority,
    /// `/ucloud/{id}`
    pub namespace: Box<str>,
}

impl UpstreamBase {
    /// `None` when the metadata does not make a URI (validated metadata always does).
    pub fn of(metadata: &ProviderMetadata) -> Option<Self> {
        let parts = metadata
            .namespace_url()
            .parse::<http::Uri>()
            .ok()?
            .into_parts();
        Some(Self {
            scheme: parts.scheme?,
            authority: parts.authority?,
            namespace: parts.path_and_query?.path().into(),
        })
    }

    /// `{namespace}/{path}[?{query}]` at this address; `path` is the raw path after the id.
    pub fn uri(&self, path: &str, query: Option<&str>) -> Result<http::Uri, http::Error> {
        let mut target = String::with_capacity(
            self.namespace.len() + path.len() + 2 + query.map_or(0, str::len),
        );
        target.push_str(&self.namespace);
        target.push('/');
        target.push_str(path);
        if let Some(q) = query {
            target.push('?');
            target.push_str(q);
        }
        http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(target)
            .build()
    }
}

/// The public half of a signing key, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub n: String,
    pub e: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// What the gateway knows of a provider's manifest: the last valid one and how fetching goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestRecord {
    /// The last valid manifest, as JSON text.
    pub manifest_json: Option<String>,
    pub warnings: Vec<String>,
    pub etag: Option<String>,
    pub fetched_at: Option<i64>,
    pub checked_at: Option<i64>,
    pub last_error: Option<String>,
    pub failures: i64,
    pub next_fetch_at: i64,
}
