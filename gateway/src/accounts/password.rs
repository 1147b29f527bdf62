//! Password hashing with argon2id, off the async runtime's threads and under a bound sized to the
//! CPUs (SPEC §7): each hash holds ~19 MiB while it runs, so without the bound a burst of sign-ins
//! grows the process by that much per concurrent request and starves everything else. Waiting for
//! a permit costs a task, not memory or a thread.

use super::AccountError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// A real argon2id hash of a random password, verified against when a user is unknown so that a
/// sign-in for a missing user costs the same as one for a present user.
pub async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            let random = crate::secrets::hex(&crate::secrets::random_bytes::<16>());
            hash(random).await.unwrap_or_default()
        })
        .await
        .clone()
}

/// Hashes running at once: one per CPU.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new(cpus)
});

/// Runs one argon2 computation on the blocking pool once a permit is free.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

pub async fn hash(password: String) -> Result<String, AccountError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(AccountError::Invalid(
            "password: must have 8-1024 characters".into(),
        ));
    }
    bounded(move || {
        let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>())
            .map_err(|_| AccountError::Hashing)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AccountError::Hashing)
    })
    .await
    .ok_or(AccountError::Hashing)?
}

pub async fn verify(password: String, hash: String) -> bool {
    if password.len() > 1024 {
        return false;
    }
    bounded(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}
