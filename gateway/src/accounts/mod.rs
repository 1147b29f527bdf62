//! End-users: creation, password sign-in, sessions and personal API tokens (SPEC §7).
//! Passwords are argon2id hashes; sessions and API tokens are random secrets stored as hashes.

mod assurance;
mod credentials;
mod federated;
mod identities;
mod lifecycle;
mod merge;
mod password;
mod throttle;
mod username;

pub use federated::FederatedOutcome;
pub use identities::Linked;
pub use lifecycle::{AccountLifecycle, AccountState};
pub use throttle::{Locked, ThrottlePolicy};
pub use username::Username;

use crate::clock::SharedClock;
use crate::metrics::SignInOutcome;
use crate::model::{ApiToken, NewUser, Role, User};
use crate::secrets::{API_TOKEN_PREFIX, SESSION_PREFIX, Secret, hash_secret, random_id};
use crate::store::{Store, StoreError};
use provider_kit::protocol::Principal;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("the username {0:?} is taken")]
    UsernameTaken(String),
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failed sign-ins for this username or from this address (SPEC §7).
    #[error("too many failed sign-ins; try again in {} seconds", .0.retry_after_secs)]
    TooManyAttempts(Locked),
    #[error("no such user: {0}")]
    NoSuchUser(String),
    #[error("no such API token")]
    NoSuchToken,
    /// The account is suspended, expired or disabled: nothing authenticated is allowed.
    #[error("{0}")]
    Inactive(AccountState),
    #[error("{0}")]
    InvalidTransition(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hashing,
    #[error("no such identity")]
    NoSuchIdentity,
    /// SPEC §8: an identity signs into one account.
    #[error(
        "this identity is already linked to another account; nothing was changed (an admin can merge the two accounts)"
    )]
    IdentityLinkedElsewhere,
    #[error(
        "this is the account's last way to sign in (no other identity and no password); link another identity first"
    )]
    LastWayIn,
    #[error("cannot merge: {0}; nothing was changed")]
    MergeRefused(String),
}

/// What `gateway users create` and the admin API take.
#[derive(Debug, Clone)]
pub struct UserInput {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: Option<String>,
    pub admin: bool,
    pub password: Option<String>,
}

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    clock: SharedClock,
    session_ttl_ms: i64,
    credentials: std::sync::Arc<credentials::CredentialCache>,
    throttle: throttle::SignInThrottle,
    /// Sign-ins by outcome, password and federated.
    pub sign_ins: crate::metrics::SignIns,
}

impl Accounts {
    /// `credential_cache_ms`: how long a looked-up session or API token is trusted without asking the
    /// database again (0: never).
    pub fn new(
        store: Store,
        clock: SharedClock,
        session_ttl_secs: i64,
        credential_cache_ms: i64,
    ) -> Self {
        Self {
            throttle: throttle::SignInThrottle::new(store.clone(), ThrottlePolicy::default()),
            store,
            clock,
            session_ttl_ms: session_ttl_secs * 1000,
            credentials: std::sync::Arc::new(credentials::CredentialCache::new(
                credential_cache_ms,
            )),
            sign_ins: Default::default(),
        }
    }

    /// Sign-ins throttled by `policy` instead of the contract's default (5 failures in 15 minutes).
    pub fn with_throttle_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.throttle = throttle::SignInThrottle::new(self.store.clone(), policy);
        self
    }

    /// The active user a secret belongs to, from the cache or (`lookup`) the database.
    async fn user_by_secret<F, Fut>(
        &self,
        secret: &str,
        lookup: F,
    ) -> Result<Option<Arc<User>>, AccountError>
    where
        F: FnOnce(String, i64) -> Fut,
        Fut: std::future::Future<Output = Result<Option<User>, StoreError>>,
    {
        let digest = crate::secrets::secret_digest(secret);
        let now = self.clock.now_ms();
        let (user, record) = match self.credentials.get(&digest, now) {
            Some(hit) => hit,
            None => {
                let Some(user) = lookup(crate::secrets::hex(&digest), now).await? else {
                    return Ok(None);
                };
                let record = self.store.account_state(user.id).await?.unwrap_or_default();
                let user = Arc::new(user);
                self.credentials.put(digest, user.clone(), record, now);
                (user, record)
            }
        };
        match AccountState::at(&record, now) {
            AccountState::Active => Ok(Some(user)),
            other => Err(AccountError::Inactive(other)),
        }
    }

    pub async fn create_user(&self, input: UserInput) -> Result<User, AccountError> {
        let username = Username::parse(&input.username).map_err(AccountError::Invalid)?;
        let email = input.email.trim();
        if email.len() > 254 || email.split('@').filter(|p| !p.is_empty()).count() != 2 {
            return Err(AccountError::Invalid(format!(
                "email: {email:?} is not an address"
            )));
        }
        for (field, value) in [
            ("first-name", &input.first_name),
            ("last-name", &input.last_name),
        ] {
            if value.trim().is_empty() || value.chars().count() > 100 {
                return Err(AccountError::Invalid(format!(
                    "{field}: must have 1-100 characters"
                )));
            }
        }
        let password_hash = match input.password {
            Some(p) => Some(password::hash(p).await?),
            None => None,
        };
        let new = NewUser {
            username: username.as_str().to_owned(),
            email: email.to_owned(),
            first_name: input.first_name.trim().to_owned(),
            last_name: input.last_name.trim().to_owned(),
            organization: input.organization.filter(|o| !o.trim().is_empty()),
            role: if input.admin { Role::Admin } else { Role::User },
            password_hash,
        };
        self.store
            .insert_user(&new, self.clock.now_ms())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => AccountError::UsernameTaken(new.username.clone()),
                e => e.into(),
            })
    }

    pub async fn set_password(&self, username: &str, password: String) -> Result<(), AccountError> {
        let user = self.user(username).await?;
        let hash = password::hash(password).await?;
        Ok(self.store.set_password_hash(user.id, &hash).await?)
    }

    pub async fn user(&self, username: &str) -> Result<User, AccountError> {
        self.store
            .user_by_username(username)
            .await?
            .ok_or_else(|| AccountError::NoSuchUser(username.to_owned()))
    }

    /// Checks the password and opens a session; returns the user and the session secret for the
    /// cookie. `client` is the address the attempt came from: failures are throttled per username
    /// and per address, and a locked key is refused before any password is checked.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: std::net::IpAddr,
    ) -> Result<(User, Secret), AccountError> {
        let result = self.check_password(username, password, client).await;
        self.sign_ins.record(match &result {
            Ok(_) => SignInOutcome::Ok,
            Err(AccountError::BadCredentials) => SignInOutcome::WrongPassword,
            Err(AccountError::TooManyAttempts(_)) => SignInOutcome::Throttled,
            Err(AccountError::Inactive(AccountState::PendingApproval)) => {
                SignInOutcome::PendingApproval
            }
            Err(AccountError::Inactive(_)) => SignInOutcome::Inactive,
            Err(_) => SignInOutcome::Error,
        });
        result
    }

    async fn check_password(
        &self,
        username: &str,
        password: &str,
        client: std::net::IpAddr,
    ) -> Result<(User, Secret), AccountError> {
        let admitted = self
            .throttle
            .admit(username, client, self.clock.now_ms())
            .await?
            .map_err(AccountError::TooManyAttempts)?;
        let found = self.store.password_hash(username).await?;
        // Verify against a dummy hash when the user is unknown, so timing does not reveal who exists.
        let (user, hash) = match found {
            Some((user, Some(hash))) => (Some(user), hash),
            _ => (None, password::dummy_hash().await),
        };
        let ok = password::verify(password.to_owned(), hash).await;
        let user = match (user, ok) {
            (Some(user), true) => user,
            _ => return Err(AccountError::BadCredentials),
        };
        self.throttle.succeeded(admitted).await?;
        // Only someone who knows the password learns the account's state.
        self.ensure_active(&user).await?;
        let session = self.open_session(&user).await?;
        tracing::info!(user = %user.username, "signed in");
        Ok((user, session))
    }

    /// A new session of `user`, already checked; the secret is for the cookie.
    async fn open_session(&self, user: &User) -> Result<Secret, AccountError> {
        let session = Secret::generate(SESSION_PREFIX);
        let now = self.clock.now_ms();
        self.store
            .insert_session(&session.hash(), user.id, now, now + self.session_ttl_ms)
            .await?;
        Ok(session)
    }

    /// The change feed said a session or API token changed elsewhere: ask the database next time.
    pub fn forget_credential(&self, secret_hash: &str) {
        self.credentials.forget(secret_hash);
    }

    /// The change feed said a user (or their account state) changed elsewhere.
    pub fn forget_user_credentials(&self, user_id: i64) {
        self.credentials.forget_user(user_id);
    }

    /// The change feed may have missed something: every credential is asked again.
    pub fn forget_all_credentials(&self) {
        self.credentials.clear();
    }

    /// Ends this one session; every other session and token stays as it is.
    pub async fn sign_out(&self, session: &str) -> Result<(), AccountError> {
        let hash = hash_secret(session);
        self.store.delete_session(&hash).await?;
        self.credentials.forget(&hash);
        Ok(())
    }

    /// Removes throttling counters that no longer hold anything back.
    pub async fn sweep_sign_in_throttle(&self) -> Result<u64, AccountError> {
        Ok(self.throttle.sweep(self.clock.now_ms()).await?)
    }

    pub fn session_ttl_secs(&self) -> i64 {
        self.session_ttl_ms / 1000
    }

    /// The session's user; `Err(Inactive)` if their account is not active.
    pub async fn user_by_session(&self, session: &str) -> Result<Option<Arc<User>>, AccountError> {
        let store = &self.store;
        self.user_by_secret(session, |hash, now| async move {
            store.session_user(&hash, now).await
        })
        .await
    }

    /// The token's user; `Err(Inactive)` if their account is not active.
    pub async fn user_by_api_token(&self, token: &str) -> Result<Option<Arc<User>>, AccountError> {
        let store = &self.store;
        self.user_by_secret(
            token,
            |hash, _| async move { store.api_token_user(&hash).await },
        )
        .await
    }

    /// A new personal API token; the secret is returned once and only its hash is kept.
    pub async fn create_api_token(
        &self,
        user: &User,
        name: &str,
    ) -> Result<(ApiToken, Secret), AccountError> {
        self.ensure_active(user).await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AccountError::Invalid(
                "name: must have 1-100 characters".into(),
            ));
        }
        let token = ApiToken {
            id: random_id(),
            user_id: user.id,
            name: name.to_owned(),
            created_at: self.clock.now_ms(),
        };
        let secret = Secret::generate(API_TOKEN_PREFIX);
        self.store.insert_api_token(&token, &secret.hash()).await?;
        Ok((token, secret))
    }

    pub async fn api_tokens(&self, user: &User) -> Result<Vec<ApiToken>, AccountError> {
        Ok(self.store.list_api_tokens(user.id).await?)
    }

    pub async fn delete_api_token(&self, user: &User, id: &str) -> Result<(), AccountError> {
        if self.store.delete_api_token(user.id, id).await? {
            self.credentials.forget_user(user.id);
            Ok(())
        } else {
            Err(AccountError::NoSuchToken)
        }
    }

    /// Every user, by username (`gateway users list`).
    pub async fn users(&self) -> Result<Vec<User>, AccountError> {
        Ok(self.store.list_users().await?)
    }

    /// Deletes the API token `id` whoever holds it (`gateway tokens revoke`); returns its holder.
    pub async fn revoke_api_token(&self, id: &str) -> Result<User, AccountError> {
        let owner = self
            .store
            .api_token_owner(id)
            .await?
            .ok_or(AccountError::NoSuchToken)?;
        let user = self
            .store
            .user_by_id(owner)
            .await?
            .ok_or(AccountError::NoSuchToken)?;
        self.delete_api_token(&user, id).await?;
        Ok(user)
    }

    pub async fn delete_expired_sessions(&self) -> Result<u64, AccountError> {
        Ok(self
            .store
            .delete_expired_sessions(self.clock.now_ms())
            .await?)
    }
}

/// The user as providers and `GET /api/me` see them (SPEC §2.2).
pub fn principal(user: &User) -> Principal {
    Principal {
        username: user.username.clone(),
        role: user.role.as_str().to_owned(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        uid: user.id,
        email: user.email.clone(),
        two_factor_authentication: user.federated.two_factor,
        organization: user.organization.clone(),
        assurance: user.federated.assurance.clone(),
        identity_provider: user.federated.identity_provider.clone(),
        site_username: user.federated.site_username.clone(),
    }
}
