//! Accounting on the wire (SPEC §5): what a provider sends to charge a wallet and what the gateway
//! answers. A charge is idempotent by `chargeId`, so a provider can resend one after any doubt.

use serde::{Deserialize, Serialize};

/// Whose wallet: `{"username": "…"}` or `{"project": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawOwner")]
pub enum WalletOwner {
    Username(String),
    Project(String),
}

/// The wire shape, read leniently so a wrong one gets a message that says what is expected.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    username: Option<String>,
    project: Option<String>,
}

impl TryFrom<RawOwner> for WalletOwner {
    type Error = &'static str;
    fn try_from(raw: RawOwner) -> Result<Self, Self::Error> {
        match (raw.username, raw.project) {
            (Some(u), None) => Ok(Self::Username(u)),
            (None, Some(p)) => Ok(Self::Project(p)),
            _ => Err("give exactly one of {\"username\": …} or {\"project\": …}"),
        }
    }
}

/// Body of `POST /api/accounting/charge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargeRequest {
    /// The idempotency key: the same id with the same body is charged once.
    pub charge_id: String,
    pub owner: WalletOwner,
    pub units: u64,
    #[serde(default)]
    pub description: String,
}

/// `200` answer to a charge: what the wallet holds now, and whether this `chargeId` was seen before
/// (then nothing more was taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeResponse {
    pub balance: i64,
    pub duplicate: bool,
}

/// Problem `code` of the `402` answer; the problem carries the wallet's `balance`.
pub const CODE_INSUFFICIENT_FUNDS: &str = "insufficientFunds";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_charge_reads_like_the_contract_example() {
        let charge = ChargeRequest {
            charge_id: "job-1-0".into(),
            owner: WalletOwner::Project("p1".into()),
            units: 10,
            description: "1 interval".into(),
        };
        let wire = json!({"chargeId": "job-1-0", "owner": {"project": "p1"}, "units": 10,
                          "description": "1 interval"});
        assert_eq!(serde_json::to_value(&charge).expect("serializes"), wire);
        let owner: WalletOwner =
            serde_json::from_value(json!({"username": "alice#1"})).expect("an owner");
        assert_eq!(owner, WalletOwner::Username("alice#1".into()));
        assert!(serde_json::from_value::<WalletOwner>(json!({"group": "g"})).is_err());
    }
}
