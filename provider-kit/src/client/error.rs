//! What can go wrong when a provider calls the gateway, as types a caller can act on: `402` carries
//! the balance (stop the work), `409` is a conflict (same `chargeId`, different body), a refused
//! refresh token needs an operator, and transport failures and `5xx` are worth retrying. Details come
//! from the gateway's problem body (SPEC §6), shortened; no error ever holds a token.

use std::time::Duration;

use crate::protocol::{CODE_INSUFFICIENT_FUNDS, Problem};

/// The reason a call to the gateway did not give the expected answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// `402`: the wallet does not hold enough units; nothing was taken.
    #[error("insufficient funds: the wallet holds {balance} units")]
    PaymentRequired { balance: i64 },
    /// `409`: e.g. a `chargeId` reused with a different body, or a remap without a disconnect.
    #[error("conflict: {detail}")]
    Conflict {
        code: Option<String>,
        detail: String,
    },
    /// The gateway refused the refresh token: revoked, rotated, or the provider is suspended.
    #[error("the gateway refused this provider's refresh token: {0}")]
    RefreshRejected(String),
    /// `401` even with a freshly renewed access token.
    #[error("the gateway refused this provider's access token: {0}")]
    Unauthorized(String),
    /// Any other `4xx`.
    #[error("the gateway refused the request ({status}{}): {detail}", code_suffix(.code))]
    Rejected {
        status: u16,
        code: Option<String>,
        detail: String,
    },
    /// `5xx`: the gateway failed; retrying may help.
    #[error("the gateway failed ({status}{}): {detail}", code_suffix(.code))]
    Server {
        status: u16,
        code: Option<String>,
        detail: String,
    },
    /// The gateway could not be reached, or the connection broke.
    #[error("could not reach the gateway: {0}")]
    Transport(String),
    #[error("the gateway did not answer within {0:?}")]
    Timeout(Duration),
    /// The call could not be made as asked (e.g. the gateway URL is not an http(s) URL).
    #[error("{0}")]
    Config(String),
    /// An answer that is not what the contract says (too large, wrong shape).
    #[error("unexpected answer from the gateway: {0}")]
    InvalidResponse(String),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" {c}")).unwrap_or_default()
}

impl ClientError {
    /// Worth trying again later with the same request (a charge keeps its `chargeId`).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transport(_) | Self::Timeout(_) | Self::Server { .. }
        )
    }

    pub(crate) fn transport(error: &reqwest::Error, timeout: Duration) -> Self {
        if error.is_timeout() {
            return Self::Timeout(timeout);
        }
        // The chain says why (refused, reset, DNS); URLs in it hold no secret.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Transport(message)
    }

    /// The error for a non-success answer, from its status and (problem) body.
    pub(crate) fn from_answer(status: u16, body: &[u8]) -> Self {
        let problem = serde_json::from_slice::<Problem>(body).ok();
        let code = problem.as_ref().map(|p| clip(&p.code));
        let detail = match &problem {
            Some(p) if !p.detail.is_empty() => clip(&p.detail),
            Some(p) => clip(&p.title),
            None => clip(&String::from_utf8_lossy(body)),
        };
        match status {
            402 => match problem
                .as_ref()
                .and_then(|p| p.extra.get("balance")?.as_i64())
            {
                Some(balance) => Self::PaymentRequired { balance },
                None => Self::InvalidResponse(format!(
                    "402 without a balance (code {})",
                    code.as_deref().unwrap_or(CODE_INSUFFICIENT_FUNDS)
                )),
            },
            409 => Self::Conflict { code, detail },
            401 => Self::Unauthorized(detail),
            400..=499 => Self::Rejected {
                status,
                code,
                detail,
            },
            _ => Self::Server {
                status,
                code,
                detail,
            },
        }
    }
}

/// Text from the gateway goes into logs: keep it short and free of control characters.
pub(crate) fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut clipped: String = text
        .chars()
        .take(MAX_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_CHARS {
        clipped.push('…');
    }
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: serde_json::Value) -> ClientError {
        ClientError::from_answer(status, body.to_string().as_bytes())
    }

    #[test]
    fn a_402_problem_carries_the_balance() {
        let body = json!({"type": "urn:x", "title": "Payment required", "status": 402,
                          "detail": "not enough units", "code": "insufficientFunds", "balance": 7});
        assert_eq!(
            answer(402, body),
            ClientError::PaymentRequired { balance: 7 }
        );
        assert!(matches!(
            answer(402, json!({})),
            ClientError::InvalidResponse(_)
        ));
    }

    #[test]
    fn statuses_map_to_what_a_caller_does_next() {
        let problem = |status: u16, code: &str| json!({"type": "t", "title": "T", "status": status, "detail": "why", "code": code});
        let conflict = answer(409, problem(409, "chargeMismatch"));
        assert_eq!(
            conflict,
            ClientError::Conflict {
                code: Some("chargeMismatch".into()),
                detail: "why".into()
            }
        );
        assert!(!conflict.is_retryable());
        let server = answer(503, problem(503, "unavailable"));
        assert!(matches!(server, ClientError::Server { status: 503, .. }));
        assert!(server.is_retryable());
        let rejected = answer(404, problem(404, "notFound"));
        assert_eq!(
            rejected.to_string(),
            "the gateway refused the request (404 notFound): why"
        );
        let html = ClientError::from_answer(502, b"<html>bad gateway</html>");
        assert!(html.to_string().contains("bad gateway"), "{html}");
    }

    #[test]
    fn details_are_clipped_and_stripped_of_control_characters() {
        let long = "x".repeat(1000);
        assert_eq!(clip(&long).chars().count(), 301);
        assert_eq!(clip("a\nb\u{1b}c"), "a b c");
    }
}
