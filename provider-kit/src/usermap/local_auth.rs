//! Step 3 of SPEC §4, the provider's own half: proving who the browser is *here*. A site plugs its
//! directory in through `LocalAuthenticator` (a password check: a file, LDAP bind, PAM, Kerberos
//! kinit); a site whose login is a redirect of its own (OIDC, SAML, SPNEGO) serves its own `/login`
//! routes and ends them with `UsermapFlow::prove` (the user then confirms on the flow's own page). `FileAuthenticator` is the dev provider's: local
//! users in a YAML file with argon2id password hashes, made with `hash_password`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Deserialize;

use super::names::is_valid_name;

/// Longest username and password the login form takes; longer ones are refused before any check.
pub const MAX_USERNAME_LEN: usize = 64;
pub const MAX_PASSWORD_LEN: usize = 1024;
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_USERS_FILE_BYTES: u64 = 1024 * 1024;

/// A local account a user proved they hold; its name is a valid POSIX account name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    account: String,
}

impl LocalIdentity {
    /// `None` unless `account` matches `^[a-z_][a-z0-9_-]*$` and has at most 32 characters.
    pub fn new(account: &str) -> Option<Self> {
        is_valid_name(account).then(|| Self {
            account: account.to_owned(),
        })
    }

    pub fn account(&self) -> &str {
        &self.account
    }
}

/// The directory could not answer (it is down, or its file is broken); not a wrong password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the account directory is unavailable: {0}")]
pub struct AuthenticatorUnavailable(pub String);

/// What `LocalAuthenticator::authenticate` returns: `Ok(None)` for wrong credentials.
pub type AuthFuture<'a> = Pin<
    Box<dyn Future<Output = Result<Option<LocalIdentity>, AuthenticatorUnavailable>> + Send + 'a>,
>;

/// A site's password check. Implementations must take about the same time for an unknown user as for
/// a wrong password, and must never log the password.
pub trait LocalAuthenticator: Send + Sync {
    fn authenticate<'a>(&'a self, username: &'a str, password: &'a str) -> AuthFuture<'a>;

    /// The line above the login form.
    fn prompt(&self) -> &str {
        "Sign in with your account at this provider."
    }
}

/// Why a password could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_LEN} characters")]
    Length,
    #[error("hashing failed")]
    Hashing,
}

/// An argon2id PHC string (`$argon2id$v=19$…`) for the users file.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::Length);
    }
    let salt = SaltString::encode_b64(&random::<16>()).map_err(|_| PasswordError::Hashing)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// `true` when `password` matches the PHC string `hash`.
fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

pub(crate) fn random<const N: usize>() -> [u8; N] {
    use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random generator works");
    bytes
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: Vec<FileUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    username: String,
    password_hash: String,
}

/// Why the users file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
    #[error(
        "{path}: user {username:?} is not a valid account name (^[a-z_][a-z0-9_-]*$, at most 32)"
    )]
    InvalidName { path: String, username: String },
    #[error("{path}: the password hash of {username:?} is not a PHC string")]
    InvalidHash { path: String, username: String },
}

/// Local users from a YAML file, re-read on every sign-in so an operator's edit applies at once:
///
/// ```yaml
/// users:
///   - username: alice
///     password_hash: "$argon2id$v=19$m=19456,t=2,p=1$…"   # provider-kit accounts hash-password
/// ```
#[derive(Debug, Clone)]
pub struct FileAuthenticator {
    path: PathBuf,
}

impl FileAuthenticator {
    /// Reads the file now, so a broken one stops the provider at start-up.
    pub fn new(path: impl Into<PathBuf>) -> Result<Self, UsersFileError> {
        let path = path.into();
        load(&path)?;
        Ok(Self { path })
    }

    async fn check(
        &self,
        username: String,
        password: String,
    ) -> Result<Option<LocalIdentity>, AuthenticatorUnavailable> {
        let path = self.path.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let users = load(&path)?;
            let found = users.into_iter().find(|u| u.username == username);
            // An unknown user costs one argon2 verification too, so timing does not tell who exists.
            let hash = found
                .as_ref()
                .map_or_else(dummy_hash, |u| u.password_hash.clone());
            let ok = verify_password(&password, &hash);
            Ok(found
                .filter(|_| ok)
                .and_then(|u| LocalIdentity::new(&u.username)))
        })
        .await
        .map_err(|_| AuthenticatorUnavailable("the password check was interrupted".into()))?;
        checked.map_err(|error: UsersFileError| {
            tracing::error!(%error, "cannot read the local users file");
            AuthenticatorUnavailable("the local users file cannot be read".into())
        })
    }
}

impl LocalAuthenticator for FileAuthenticator {
    fn authenticate<'a>(&'a self, username: &'a str, password: &'a str) -> AuthFuture<'a> {
        Box::pin(self.check(username.to_owned(), password.to_owned()))
    }
}

fn load(path: &Path) -> Result<Vec<FileUser>, UsersFileError> {
    use std::io::Read as _;
    let shown = path.display().to_string();
    let unreadable = |message: String| UsersFileError::Unreadable {
        path: shown.clone(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_USERS_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| unreadable(e.to_string()))?;
    if text.len() as u64 > MAX_USERS_FILE_BYTES {
        return Err(unreadable(format!(
            "larger than {MAX_USERS_FILE_BYTES} bytes"
        )));
    }
    let file: UsersFile = serde_yaml::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    for user in &file.users {
        if !is_valid_name(&user.username) {
            return Err(UsersFileError::InvalidName {
                path: shown,
                username: user.username.clone(),
            });
        }
        if PasswordHash::new(&user.password_hash).is_err() {
            return Err(UsersFileError::InvalidHash {
                path: shown,
                username: user.username.clone(),
            });
        }
    }
    Ok(file.users)
}

/// A real hash of a random password, made once.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let random: String = random::<16>().iter().map(|b| format!("{b:02x}")).collect();
            hash_password(&random).unwrap_or_default()
        })
        .clone()
}
