//! A provider's report (SPEC §4 step 4). With a nonce: it must name a live attempt of this provider
//! for this user; the answer carries the attempt's completion code, which only the browser that
//! signed in at the provider receives. Without a nonce (implicit flow): accepted only from a
//! provider whose manifest maps implicitly, for a user it is visible to who was brokered to it since
//! their connection last ended. A rename (`renamedFrom`, no nonce): accepted only for the user's `ok`
//! connection at this provider that still names the old account. Every other report gets the one
//! `NoSuchConnection` answer.

use super::{ConnectionError, Connections};
use crate::model::{Connection, ConnectionState, Provider, Reported, User};
use crate::registry::visible_to;
use crate::secrets::{Secret, hash_secret, random_id};
use provider_kit::protocol::{Manifest, MappingReport, ReportedState};

/// What a report did.
pub enum ReportOutcome {
    /// An explicit-flow report: the code the provider hands to the browser it redirects back.
    Explicit { completion_code: Secret },
    /// An implicit-flow report: the connection as it now is.
    Implicit(Connection),
}

impl Connections {
    /// `manifest` is the provider's current one (`None`: none yet, so nothing implicit).
    pub async fn report(
        &self,
        provider: &Provider,
        manifest: Option<&Manifest>,
        report: MappingReport,
    ) -> Result<ReportOutcome, ConnectionError> {
        let id = provider.metadata.id.as_str();
        let reported = checked(&report)?;
        let user = self.store.user_by_username(&report.username).await?;
        let now = self.clock.now_ms();
        if let Some(from) = report.renamed_from.as_deref() {
            let user = user.ok_or(ConnectionError::NoSuchConnection)?;
            return self.rename(&user, id, from, &report, &reported, now).await;
        }
        let outcome = match report.nonce.as_deref() {
            Some(nonce) => {
                let nonce_hash = hash_secret(nonce);
                let (attempt, connection) = self
                    .store
                    .attempt(&nonce_hash)
                    .await?
                    .ok_or(ConnectionError::NoSuchConnection)?;
                // The nonce must belong to this provider and this user.
                let user = user.ok_or(ConnectionError::NoSuchConnection)?;
                if connection.provider_id != id || connection.user_id != user.id {
                    return Err(ConnectionError::NoSuchConnection);
                }
                self.refuse_remap(&user, id, &reported).await?;
                let code = Secret::generate("");
                if !self
                    .store
                    .report_attempt(
                        &nonce_hash,
                        &attempt.connection_id,
                        &reported,
                        &code.hash(),
                        now,
                    )
                    .await?
                {
                    return Err(ConnectionError::NoSuchConnection);
                }
                tracing::info!(provider = %id, user = %user.username, "mapping reported for an attempt");
                ReportOutcome::Explicit {
                    completion_code: code,
                }
            }
            None => {
                let user = self.implicit_user(provider, manifest, user).await?;
                self.refuse_remap(&user, id, &reported).await?;
                let connection = self
                    .store
                    .report_implicit(&random_id(), user.id, id, &reported, now)
                    .await?;
                tracing::info!(provider = %id, user = %user.username, state = crate::model::state_str(connection.state), "implicit mapping reported");
                ReportOutcome::Implicit(connection)
            }
        };
        Ok(outcome)
    }

    /// A provider renamed the local account of an `ok` connection: only its name changes. A retry
    /// after the rename was taken answers the connection as it is.
    async fn rename(
        &self,
        user: &User,
        id: &str,
        from: &str,
        report: &MappingReport,
        reported: &Reported,
        now: i64,
    ) -> Result<ReportOutcome, ConnectionError> {
        if from.is_empty() || from.len() > 256 {
            return Err(ConnectionError::InvalidReport(
                "renamedFrom: must have 1-256 characters".into(),
            ));
        }
        if report.nonce.is_some() || reported.state != ConnectionState::Ok {
            return Err(ConnectionError::InvalidReport(
                "renamedFrom: only in a report without nonce of state ok".into(),
            ));
        }
        let to = reported.local_identity.as_str();
        if let Some(current) = self.store.connection(user.id, id).await?
            && current.state == ConnectionState::Ok
            && current.local_identity.as_deref() == Some(to)
        {
            return Ok(ReportOutcome::Implicit(current));
        }
        let connection = self
            .store
            .rename_local_identity(user.id, id, from, to, now)
            .await?
            .ok_or(ConnectionError::NoSuchConnection)?;
        tracing::info!(provider = %id, user = %user.username, "local account renamed");
        Ok(ReportOutcome::Implicit(connection))
    }

    /// The user an implicit report may name, or `NoSuchConnection` whatever the reason.
    async fn implicit_user(
        &self,
        provider: &Provider,
        manifest: Option<&Manifest>,
        user: Option<User>,
    ) -> Result<User, ConnectionError> {
        let implicit = manifest.is_some_and(|m| !m.users.require_explicit_mapping);
        let Some(user) = user.filter(|u| implicit && visible_to(u, provider)) else {
            return Err(ConnectionError::NoSuchConnection);
        };
        if !self
            .store
            .has_brokered(provider.metadata.id.as_str(), user.id)
            .await?
        {
            return Err(ConnectionError::NoSuchConnection);
        }
        Ok(user)
    }

    /// No silent re-mapping: a connected user keeps their local account until disconnected.
    async fn refuse_remap(
        &self,
        user: &User,
        provider_id: &str,
        reported: &Reported,
    ) -> Result<(), ConnectionError> {
        if let Some(current) = self.store.connection(user.id, provider_id).await?
            && current.state == ConnectionState::Ok
            && let Some(existing) = current.local_identity.as_deref()
            && existing != reported.local_identity
        {
            return Err(ConnectionError::Remap {
                username: user.username.clone(),
                current: existing.to_owned(),
                requested: reported.local_identity.clone(),
            });
        }
        Ok(())
    }
}

/// The report's own fields, checked before anything is looked up.
fn checked(report: &MappingReport) -> Result<Reported, ConnectionError> {
    let local = report.local_identity.trim();
    // A pending report (e.g. `pendingAccountLinking`) may not have a local account yet.
    let needs_local = report.state == ReportedState::Ok;
    if (needs_local && local.is_empty()) || local.len() > 256 {
        return Err(ConnectionError::InvalidReport(
            "localIdentity: must have 1-256 characters (it may be empty only in a pending state)"
                .into(),
        ));
    }
    let bounded = |v: &Option<String>, field: &str| match v {
        Some(s) if s.len() > 2000 => Err(ConnectionError::InvalidReport(format!(
            "{field}: at most 2000 characters"
        ))),
        _ => Ok(()),
    };
    bounded(&report.comment, "comment")?;
    bounded(&report.comment_url, "commentUrl")?;
    if let Some(url) = &report.comment_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ConnectionError::InvalidReport(
            "commentUrl: must be an http(s) URL".into(),
        ));
    }
    Ok(Reported {
        state: match report.state {
            ReportedState::Ok => ConnectionState::Ok,
            ReportedState::PendingAccountLinking => ConnectionState::PendingAccountLinking,
            ReportedState::PendingAdditionalValidation => {
                ConnectionState::PendingAdditionalValidation
            }
        },
        local_identity: local.to_owned(),
        comment: report.comment.clone(),
        comment_url: report.comment_url.clone(),
    })
}
