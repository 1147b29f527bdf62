//! Plain records of the audit log: one security-relevant event, as written and as read back.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: i64,
    /// Who acted: a username, `#P_<provider>`, or `_operator` for the command line.
    pub actor: String,
    /// A stable dotted name, e.g. `provider.approved`, `wallet.granted`, `user.suspended`.
    pub action: String,
    /// What was acted on: a provider id, a username, a project id, a key id.
    pub target: String,
    /// A JSON object with the particulars (never a secret).
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub event: AuditEvent,
}
