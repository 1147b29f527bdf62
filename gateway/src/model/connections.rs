//! Connections between a gateway user and a provider (SPEC §4).

pub use provider_kit::protocol::ConnectionState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    pub user_id: i64,
    pub provider_id: String,
    pub state: ConnectionState,
    pub local_identity: Option<String>,
    pub comment: Option<String>,
    pub comment_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One explicit-flow attempt: a single-use nonce bound to the session that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub connection_id: String,
    pub session_hash: String,
    pub expires_at: i64,
    pub reported_at: Option<i64>,
    pub used_at: Option<i64>,
    /// SHA-256 of the completion code handed to the provider with the report's answer.
    pub code_hash: Option<String>,
}

/// What a provider reported about a user's local account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub state: ConnectionState,
    pub local_identity: String,
    pub comment: Option<String>,
    pub comment_url: Option<String>,
}

pub fn state_str(state: ConnectionState) -> &'static str {
    use ConnectionState::*;
    match state {
        Requested => "requested",
        Creating => "creating",
        Ok => "ok",
        PendingAccountLinking => "pendingAccountLinking",
        PendingAdditionalValidation => "pendingAdditionalValidation",
        Failed => "failed",
        Expired => "expired",
        Disconnected => "disconnected",
    }
}

pub fn parse_state(s: &str) -> Option<ConnectionState> {
    use ConnectionState::*;
    Some(match s {
        "requested" => Requested,
        "creating" => Creating,
        "ok" => Ok,
        "pendingAccountLinking" => PendingAccountLinking,
        "pendingAdditionalValidation" => PendingAdditionalValidation,
        "failed" => Failed,
        "expired" => Expired,
        "disconnected" => Disconnected,
        _ => return None,
    })
}
