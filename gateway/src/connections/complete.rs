//! The browser's return (SPEC §4 step 5): `returnUrl?nonce=…&code=…`. Only the session that started
//! the attempt, carrying the completion code the provider got in its report's answer, completes
//! it. The session binding stops a browser being tricked into completing someone else's attempt;
//! the code stops the initiator completing an attempt that a victim's browser signed in to. A
//! return with another user's session, or the starting session without the right code once the
//! provider reported, ends the attempt for good; anything else refused changes nothing.

use super::{ConnectionError, Connections};
use crate::model::{Connection, User};
use crate::secrets::hash_secret;

/// Why a return was refused, in words for the person whose browser it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompletionRefused {
    #[error(
        "This browser is not signed in to the gateway, so the connection could not be finished. \
         Nothing was changed: sign in and open the link again."
    )]
    NotSignedIn,
    #[error(
        "This connection link is not valid: it was used already, has expired, or belongs to another \
         connection. Nothing was changed; start the connection again from the providers page."
    )]
    UnknownAttempt,
    #[error(
        "The provider has not confirmed your account yet, so the connection could not be finished. \
         Nothing was changed; finish signing in at the provider."
    )]
    NotReported,
    #[error(
        "This connection was started in another browser or session of yours. Nothing was changed; \
         finish it there, or start it again here."
    )]
    OtherSession,
    #[error(
        "This connection was started by another gateway user, not by you. It has been cancelled so \
         that nobody can finish it, and nothing was connected to your account. If someone sent you \
         a link to connect an account, do not sign in at a provider for them."
    )]
    EndedForOtherUser,
    #[error(
        "This return from the provider did not carry the code the provider gave to the browser that \
         signed in there, so it cannot be shown that you are the one who signed in. The attempt has \
         been cancelled and nothing was connected; start the connection again in this browser."
    )]
    EndedWithoutCode,
}

/// What the starting user reads on their connection after an ended attempt.
const ENDED_FOR_OTHER_USER: &str = "Cancelled: the link to finish this connection was opened in a \
     browser signed in as another gateway user. Start again, and finish in your own browser.";
const ENDED_WITHOUT_CODE: &str = "Cancelled: the return from the provider did not carry its \
     completion code, so the browser that signed in at the provider may not have been yours. \
     Start again, and finish in your own browser.";

impl Connections {
    /// `session` is the signed-in user and the session cookie's secret, if the browser has one.
    pub async fn complete(
        &self,
        connection_id: &str,
        nonce: &str,
        code: Option<&str>,
        session: Option<(&User, &str)>,
    ) -> Result<Connection, ConnectionError> {
        let refused = |why| Err(ConnectionError::Completion(why));
        let Some((user, session)) = session else {
            return refused(CompletionRefused::NotSignedIn);
        };
        let nonce_hash = hash_secret(nonce);
        let now = self.clock.now_ms();
        let Some((attempt, connection)) = self.store.attempt(&nonce_hash).await? else {
            return refused(CompletionRefused::UnknownAttempt);
        };
        if attempt.connection_id != connection_id
            || attempt.used_at.is_some()
            || attempt.expires_at <= now
        {
            return refused(CompletionRefused::UnknownAttempt);
        }
        let nonce_hash = nonce_hash.as_str();
        let ended = |comment: &'static str, why: CompletionRefused| async move {
            if self
                .store
                .end_attempt(nonce_hash, connection_id, comment, now)
                .await?
            {
                tracing::warn!(connection = %connection_id, reason = ?why, "connection attempt ended");
                Err(ConnectionError::Completion(why))
            } else {
                Err(ConnectionError::Completion(
                    CompletionRefused::UnknownAttempt,
                ))
            }
        };
        let reported = attempt.reported_at.is_some();
        if connection.user_id != user.id {
            let result = ended(ENDED_FOR_OTHER_USER, CompletionRefused::EndedForOtherUser).await;
            if reported {
                self.unlink_ended(&connection).await;
            }
            return result;
        }
        if attempt.session_hash != hash_secret(session) {
            return refused(CompletionRefused::OtherSession);
        }
        if attempt.reported_at.is_none() {
            return refused(CompletionRefused::NotReported);
        }
        let code_hash = code.filter(|c| !c.is_empty()).map(hash_secret);
        if code_hash.is_none() || code_hash != attempt.code_hash {
            let result = ended(ENDED_WITHOUT_CODE, CompletionRefused::EndedWithoutCode).await;
            self.unlink_ended(&connection).await;
            return result;
        }
        let Some(code_hash) = code_hash else {
            return refused(CompletionRefused::UnknownAttempt);
        };
        let completed = self
            .store
            .complete_attempt(
                nonce_hash,
                connection_id,
                &hash_secret(session),
                &code_hash,
                now,
            )
            .await?;
        match completed {
            Some(connection) => {
                tracing::info!(user = %user.username, provider = %connection.provider_id, "connection completed");
                Ok(connection)
            }
            None => refused(CompletionRefused::UnknownAttempt),
        }
    }

    /// An attempt the provider had reported ended without completing: the provider recorded a
    /// mapping for the attempt's user (perhaps onto a victim's local account); tell it to drop it.
    async fn unlink_ended(&self, connection: &Connection) {
        let user = self.store.user_by_id(connection.user_id).await;
        let provider = self.store.provider(&connection.provider_id).await;
        match (user, provider) {
            (Ok(Some(user)), Ok(Some(provider))) => {
                self.tell_provider_unlink(&user, &provider).await
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(connection = %connection.id, error = %e, "cannot tell the provider of an ended attempt");
            }
            _ => {}
        }
    }
}
