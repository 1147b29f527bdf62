//! Plain records of accounting (SPEC §5): who owns a wallet, wallets, and charges as the store keeps them.

/// An owner as named on the wire: `{"username": …}` or `{"project": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerRef {
    Username(String),
    Project(String),
}

/// An owner resolved to what the database keys wallets by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User { id: i64, username: String },
    Project { id: String },
}

impl Owner {
    /// The one text key under which a wallet is unique per provider: `user:<id>` or `project:<id>`.
    pub fn key(&self) -> String {
        match self {
            Self::User { id, .. } => format!("user:{id}"),
            Self::Project { id } => format!("project:{id}"),
        }
    }

    pub fn to_ref(&self) -> OwnerRef {
        match self {
            Self::User { username, .. } => OwnerRef::Username(username.clone()),
            Self::Project { id } => OwnerRef::Project(id.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub owner: Owner,
    pub provider: String,
    pub balance: i64,
    pub updated_at: i64,
}

/// A charge as the provider asked for it, after parsing and owner resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCharge {
    pub provider: String,
    pub charge_id: String,
    pub owner: Owner,
    pub units: i64,
    pub description: String,
    pub at: i64,
}

/// The first answer to a charge; every retry with the same body gets it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Taken; `balance` is what was left.
    Accepted { balance: i64 },
    /// Refused and nothing taken; `balance` is what the wallet held then.
    Insufficient { balance: i64 },
}

impl ChargeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::Insufficient { .. } => "insufficientFunds",
        }
    }

    pub fn parse(outcome: &str, balance: i64) -> Option<Self> {
        match outcome {
            "accepted" => Some(Self::Accepted { balance }),
            "insufficientFunds" => Some(Self::Insufficient { balance }),
            _ => None,
        }
    }

    pub fn balance(self) -> i64 {
        match self {
            Self::Accepted { balance } | Self::Insufficient { balance } => balance,
        }
    }
}

/// What the store did with a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeResult {
    /// First time this `chargeId` was seen: this is the first answer.
    First(ChargeOutcome),
    /// Seen before with the same body: the first answer again.
    Duplicate(ChargeOutcome),
    /// Seen before with a different body: refused, nothing changed.
    Mismatch,
}

/// A past charge, for the owner's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRecord {
    pub charge_id: String,
    pub provider: String,
    pub units: i64,
    pub description: String,
    pub outcome: ChargeOutcome,
    pub at: i64,
}
