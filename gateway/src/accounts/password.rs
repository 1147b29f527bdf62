//! Password hashing with argon2id, off the async runtime's threads and under a bound sized to the
//! CPUs (SPEC §7): each hash holds ~19 MiB while it runs, so without the bound a burst of sign-ins
//! grows the process by that much per concurrent request and starves everything else.

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

/// The threads that run argon2: one per CPU, started on first use and kept. A fixed set matters for
/// memory as much as for CPU: the allocator keeps an arena per thread that has run a hash, and an
/// arena keeps its 19 MiB after the hash is done; on the runtime's blocking pool, which grows to
/// hundreds of threads under a burst, that was a gigabyte and more that never came back.
static HASHERS: std::sync::LazyLock<Option<std::sync::mpsc::Sender<Job>>> =
    std::sync::LazyLock::new(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..cpus {
            let rx = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job, not while hashing.
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "cannot start a password-hashing thread");
                return None;
            }
        }
        Some(tx)
    });

type Job = Box<dyn FnOnce() + Send>;

/// Runs one argon2 computation on the hashing threads; waiting for one costs a task, not memory.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(work());
    });
    HASHERS.as_ref()?.send(job).ok()?;
    rx.await.ok()
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
