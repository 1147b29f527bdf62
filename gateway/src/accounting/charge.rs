//! `POST /api/accounting/charge` behind the handler: validate, resolve the owner, and let the store
//! apply the charge exactly once per (provider, chargeId). The first answer is stored with the
//! charge, so a retry with the same body gets it again (`duplicate: true`), 402 included.

use super::{Accounting, AccountingError, MAX_UNITS};
use crate::metrics::ChargeOutcome as Counted;
use crate::model::{ChargeOutcome, ChargeResult, NewCharge, OwnerRef, Provider};

const MAX_CHARGE_ID_CHARS: usize = 128;
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// A provider's charge as sent (SPEC §5).
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub charge_id: String,
    pub owner: OwnerRef,
    pub units: i64,
    pub description: String,
}

/// An accepted charge: what the wallet holds now, and whether this repeats the first answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    pub balance: i64,
    pub duplicate: bool,
}

impl ChargeRequest {
    fn check(&self) -> Result<(), AccountingError> {
        let invalid = |m: &str| Err(AccountingError::Invalid(m.to_owned()));
        let id_chars = self.charge_id.chars().count();
        if id_chars == 0
            || id_chars > MAX_CHARGE_ID_CHARS
            || self.charge_id.chars().any(char::is_control)
        {
            return invalid("chargeId: must have 1-128 characters and no control characters");
        }
        if !(1..=MAX_UNITS).contains(&self.units) {
            return Err(AccountingError::Invalid(format!(
                "units: must be a whole number from 1 to {MAX_UNITS}"
            )));
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS
            || self.description.chars().any(char::is_control)
        {
            return invalid(
                "description: must have at most 1000 characters and no control characters",
            );
        }
        Ok(())
    }
}

impl Accounting {
    /// Charges `provider`'s wallet of the request's owner. Never overdraws; `InsufficientFunds`
    /// takes nothing; a reused `chargeId` with a different body is `ChargeIdReused`.
    pub async fn charge(
        &self,
        provider: &Provider,
        request: ChargeRequest,
    ) -> Result<Charged, AccountingError> {
        let result = self.take(provider, request).await;
        self.charges.record(match &result {
            Ok(Charged {
                duplicate: false, ..
            }) => Counted::Ok,
            Ok(Charged {
                duplicate: true, ..
            }) => Counted::Duplicate,
            Err(AccountingError::InsufficientFunds { .. }) => Counted::InsufficientFunds,
            Err(AccountingError::ChargeIdReused(_)) => Counted::Conflict,
            Err(AccountingError::Store(_)) => Counted::Error,
            Err(_) => Counted::Invalid,
        });
        result
    }

    async fn take(
        &self,
        provider: &Provider,
        request: ChargeRequest,
    ) -> Result<Charged, AccountingError> {
        request.check()?;
        let owner = self.resolve(&request.owner).await?;
        let charge = NewCharge {
            provider: provider.metadata.id.to_string(),
            charge_id: request.charge_id,
            owner,
            units: request.units,
            description: request.description,
            at: self.clock.now_ms(),
        };
        let (outcome, duplicate) = match self.store.charge(&charge).await? {
            ChargeResult::First(outcome) => (outcome, false),
            ChargeResult::Duplicate(outcome) => (outcome, true),
            ChargeResult::Mismatch => {
                return Err(AccountingError::ChargeIdReused(charge.charge_id));
            }
        };
        tracing::info!(
            provider = %charge.provider, charge_id = %charge.charge_id, owner = %charge.owner.key(),
            units = charge.units, outcome = outcome.as_str(), balance = outcome.balance(), duplicate,
            "charge"
        );
        match outcome {
            ChargeOutcome::Accepted { balance } => Ok(Charged { balance, duplicate }),
            ChargeOutcome::Insufficient { balance } => Err(AccountingError::InsufficientFunds {
                units: charge.units,
                balance,
                duplicate,
            }),
        }
    }
}
