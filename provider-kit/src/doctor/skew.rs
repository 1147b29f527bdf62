//! How far this provider's clock is from the gateway's, from one refresh: the `iat` of the fresh
//! access token and the answer's `Date` header, each compared with the local clock read just
//! before sending and just after the answer (so a slow answer is not mistaken for skew). Within
//! 10 s passes; beyond that warns; beyond the verifier's leeway fails, because then the gateway's
//! tokens are refused here as "not yet valid" or "expired".

use std::time::Duration;

use super::report::{Check, CheckName};
use crate::client::TokenProbe;

/// Skew beyond this is worth a warning, though tokens still verify.
pub const WARN_ABOVE_SECS: i64 = 10;

/// Local clock minus gateway clock, in seconds (positive: this provider is ahead); `None` if the
/// gateway gave no time at all. Of the two readings, the one further off counts.
pub fn measure(probe: &TokenProbe) -> Option<i64> {
    let offset = |gateway: i64| {
        if gateway < probe.sent_at {
            probe.sent_at - gateway
        } else if gateway > probe.received_at {
            probe.received_at - gateway
        } else {
            0
        }
    };
    [probe.issued_at, probe.date]
        .into_iter()
        .flatten()
        .map(offset)
        .max_by_key(|skew| skew.unsigned_abs())
}

/// The clock-skew check for one probe, against the verifier's `leeway`.
pub fn check(probe: &TokenProbe, leeway: Duration) -> Check {
    let leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
    let details = serde_json::json!({
        "localSentAt": probe.sent_at,
        "localReceivedAt": probe.received_at,
        "tokenIat": probe.issued_at,
        "dateHeader": probe.date,
        "warnAboveSecs": WARN_ABOVE_SECS,
        "leewaySecs": leeway,
    });
    let Some(skew) = measure(probe) else {
        return Check::warn(
            CheckName::ClockSkew,
            "the gateway's answer had neither a token `iat` nor a `Date` header; skew unknown",
            "check that a proxy in front of the gateway keeps the `Date` header",
        )
        .with_details(details);
    };
    let mut details = details;
    details["skewSecs"] = skew.into();
    let direction = if skew > 0 { "ahead of" } else { "behind" };
    let said = format!(
        "this provider's clock is {} s {direction} the gateway's",
        skew.unsigned_abs()
    );
    let sync = "synchronise this machine's clock (NTP: `timedatectl set-ntp true`, chrony or ntpd), \
                and check the gateway's too";
    let magnitude = i64::try_from(skew.unsigned_abs()).unwrap_or(i64::MAX);
    let check = if magnitude > leeway {
        let effect = if skew > 0 { "expired" } else { "not yet valid" };
        Check::fail(
            CheckName::ClockSkew,
            format!(
                "{said}: more than the verifier's leeway of {leeway} s, so the gateway's tokens \
                 look {effect} here and every call fails with 401"
            ),
            sync,
        )
    } else if magnitude > WARN_ABOVE_SECS {
        Check::warn(
            CheckName::ClockSkew,
            format!(
                "{said}: within the verifier's leeway of {leeway} s, but more than {WARN_ABOVE_SECS} s"
            ),
            sync,
        )
    } else if skew == 0 {
        Check::pass(
            CheckName::ClockSkew,
            "this provider's clock agrees with the gateway's (within the round trip)",
        )
    } else {
        Check::pass(CheckName::ClockSkew, said)
    };
    check.with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn probe(iat: Option<i64>, date: Option<i64>, sent: i64, received: i64) -> TokenProbe {
        TokenProbe {
            issued_at: iat,
            date,
            sent_at: sent,
            received_at: received,
            expires_in: 600,
        }
    }

    const LEEWAY: Duration = Duration::from_secs(30);

    #[test]
    fn a_gateway_time_inside_the_round_trip_is_no_skew() {
        assert_eq!(
            measure(&probe(Some(1_005), Some(1_001), 1_000, 1_010)),
            Some(0)
        );
    }

    #[test]
    fn a_clock_ahead_is_positive_and_behind_negative() {
        assert_eq!(measure(&probe(Some(880), None, 1_000, 1_001)), Some(120));
        assert_eq!(measure(&probe(None, Some(1_050), 1_000, 1_001)), Some(-49));
    }

    #[test]
    fn the_reading_further_off_counts() {
        assert_eq!(
            measure(&probe(Some(995), Some(1_100), 1_000, 1_000)),
            Some(-100)
        );
        assert_eq!(measure(&probe(None, None, 1_000, 1_000)), None);
    }

    #[test]
    fn ten_seconds_pass_more_warn_and_beyond_the_leeway_fails() {
        let status = |iat: i64| check(&probe(Some(iat), None, 1_000, 1_000), LEEWAY).status;
        assert_eq!(status(990), Status::Pass);
        assert_eq!(status(989), Status::Warn);
        assert_eq!(status(970), Status::Warn);
        assert_eq!(status(969), Status::Fail);
        assert_eq!(status(1_031), Status::Fail);
        let failed = check(&probe(Some(580), None, 1_000, 1_000), LEEWAY);
        assert!(
            failed
                .summary
                .starts_with("this provider's clock is 420 s ahead of the gateway's"),
            "{}",
            failed.summary
        );
        assert!(
            failed.summary.contains("look expired"),
            "{}",
            failed.summary
        );
        assert!(failed.fix.as_deref().is_some_and(|f| f.contains("NTP")));
    }
}
