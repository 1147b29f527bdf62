//! User mapping on the wire (SPEC §4): the report a provider sends once a gateway user has a local
//! account (`POST /api/providers/usermap/{id}`), and the states a connection goes through.

use serde::{Deserialize, Serialize};

/// Every state of a connection (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionState {
    Requested,
    Creating,
    Ok,
    PendingAccountLinking,
    PendingAdditionalValidation,
    Failed,
    Expired,
    Disconnected,
}

/// The states a provider may report; the gateway decides the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReportedState {
    Ok,
    PendingAccountLinking,
    PendingAdditionalValidation,
}

/// Body of `POST /api/providers/usermap/{id}` (SPEC §4 step 4, and the implicit flow without `nonce`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingReport {
    /// The attempt's nonce from the usermap token; absent in the implicit flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The gateway username.
    pub username: String,
    /// The local account it maps to.
    pub local_identity: String,
    pub state: ReportedState,
    pub comment: Option<String>,
    pub comment_url: Option<String>,
    /// The local account's previous name when a username policy change renamed it: the gateway
    /// changes the `localIdentity` of the user's `ok` connection only when it still names this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// The gateway's answer to a report (SPEC §4 step 4). To a report with a nonce it carries the
/// attempt's single-use completion code, which the provider appends as `code=` to the return URL;
/// to an implicit report it is the connection, and `completionCode` is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingReportAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_code: Option<String>,
}

impl MappingReport {
    /// An implicit-flow report: the account exists and is usable.
    pub fn implicit(username: impl Into<String>, local_identity: impl Into<String>) -> Self {
        Self {
            nonce: None,
            username: username.into(),
            local_identity: local_identity.into(),
            state: ReportedState::Ok,
            comment: None,
            comment_url: None,
            renamed_from: None,
        }
    }

    /// A renamed account (a username policy change): the same local account, now called `to`.
    pub fn renamed(
        username: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
    ) -> Self {
        Self {
            renamed_from: Some(from.into()),
            ..Self::implicit(username, to)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_implicit_report_has_no_nonce_and_explicit_nulls() {
        let report = MappingReport::implicit("alice#1", "alice_1");
        let wire = json!({"username": "alice#1", "localIdentity": "alice_1", "state": "ok",
                          "comment": null, "commentUrl": null});
        assert_eq!(serde_json::to_value(&report).expect("serializes"), wire);
        let pending: ReportedState =
            serde_json::from_value(json!("pendingAccountLinking")).expect("a state");
        assert_eq!(pending, ReportedState::PendingAccountLinking);
    }

    #[test]
    fn a_report_answer_carries_the_completion_code_or_nothing() {
        let explicit = MappingReportAnswer {
            completion_code: Some("c0de".into()),
        };
        let wire = json!({"completionCode": "c0de"});
        assert_eq!(serde_json::to_value(&explicit).expect("serializes"), wire);
        let implicit: MappingReportAnswer =
            serde_json::from_value(json!({"id": "c1", "state": "ok"})).expect("an answer");
        assert_eq!(implicit.completion_code, None);
    }
}
