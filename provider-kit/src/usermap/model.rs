//! The plain values the usermap flow passes around: a local account (what `/etc/passwd` would hold)
//! and a mapping of a gateway user to one.

/// A POSIX account at this provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalAccount {
    /// `^[a-z_][a-z0-9_-]*$`, at most 32 characters.
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    /// Full name, ASCII without `:`, `,` or control characters.
    pub gecos: String,
    /// The gateway user an automatic account was made for; `None` for an account a user proved.
    pub created_for: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A gateway user and the local account they act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub gateway_username: String,
    pub account: LocalAccount,
    /// Unix seconds.
    pub created_at: i64,
    /// When the gateway accepted the report (Unix seconds); `None` while it has not.
    pub reported_at: Option<i64>,
}

/// A removed account's name and ids, not handed out again until `until` (the quarantine ledger).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuarantineEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The gateway user the account was made for, if it was automatic.
    pub created_for: Option<String>,
    /// Unix seconds.
    pub removed_at: i64,
    /// Unix seconds; from then on the name and ids are free again.
    pub until: i64,
}

/// An old name of a renamed account, kept (and from everyone else) until `until`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    pub alias: String,
    /// The account's name now.
    pub account: String,
    pub uid: u32,
    /// Unix seconds.
    pub renamed_at: i64,
    /// Unix seconds.
    pub until: i64,
}

/// A connection waiting on the provider: what the user's connection page shows, and when the
/// provider looks at it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConnection {
    pub gateway_username: String,
    /// `pendingAccountLinking` or `pendingAdditionalValidation`.
    pub state: crate::protocol::ReportedState,
    /// What the user is told, and where to read more.
    pub comment: String,
    pub comment_url: Option<String>,
    /// Unix seconds: since when it is in this state.
    pub since: i64,
    pub next_retry_at: i64,
    /// Whether the gateway has this state (else the next retry reports it).
    pub reported: bool,
}
