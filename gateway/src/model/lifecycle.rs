//! Plain record of an account's lifecycle as stored; `accounts::AccountState` is what it means now.

/// The status an admin set. Expiry is a date, not a status: see `AccountStateRecord::expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Suspended,
    Disabled,
    /// A federated sign-in created the account; an admin has not approved it yet (SPEC §8).
    PendingApproval,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Disabled => "disabled",
            Self::PendingApproval => "pendingApproval",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "disabled" => Some(Self::Disabled),
            "pendingApproval" => Some(Self::PendingApproval),
            _ => None,
        }
    }
}

/// A user without a stored record is active with no end date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountStateRecord {
    pub status: AccountStatus,
    /// With `Suspended`: when the suspension ends by itself; `None` means indefinitely.
    pub suspended_until: Option<i64>,
    /// The end of the user's membership; from then on the account is expired.
    pub expires_at: Option<i64>,
    pub updated_at: i64,
}

impl Default for AccountStateRecord {
    fn default() -> Self {
        Self {
            status: AccountStatus::Active,
            suspended_until: None,
            expires_at: None,
            updated_at: 0,
        }
    }
}
