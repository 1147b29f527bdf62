//! Password hashing with argon2id, off the async runtime's threads.

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

pub async fn hash(password: String) -> Result<String, AccountError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(AccountError::Invalid(
            "password: must have 8-1024 characters".into(),
        ));
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>())
            .map_err(|_| AccountError::Hashing)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AccountError::Hashing)
    })
    .await
    .map_err(|_| AccountError::Hashing)?
}

pub async fn verify(password: String, hash: String) -> bool {
    if password.len() > 1024 {
        return false;
    }
    tokio::task::spawn_blocking(move || {
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
