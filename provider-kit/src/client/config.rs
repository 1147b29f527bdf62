//! What a provider keeps after registering (SPEC §1): the gateway's address, its own id, the refresh
//! token shown once, and where the gateway's keys are. `Credentials` is that file (mode 0600, written
//! by `provider-kit register`); `ClientConfig` is the part the `GatewayClient` needs, plus its limits.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret::Secret;
use crate::auth::VerifierConfig;

/// Settings of a `GatewayClient`. Start from `ClientConfig::new` and change what you need.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The gateway's base URL, e.g. `https://gateway.example.org`.
    pub gateway_url: String,
    /// This provider's id, as registered.
    pub provider_id: String,
    /// The refresh token from registration; never logged.
    pub refresh_token: Secret,
    /// Upper bound on one request to the gateway, from connecting to the last byte of the answer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Answers larger than this are refused unread; honest ones are a few hundred bytes.
    pub max_response_bytes: usize,
    /// An access token is renewed this long before it expires (at most half its lifetime).
    pub renew_before: Duration,
}

impl ClientConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
    pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(60);

    pub fn new(
        gateway_url: impl Into<String>,
        provider_id: impl Into<String>,
        refresh_token: impl Into<Secret>,
    ) -> Self {
        Self {
            gateway_url: gateway_url.into(),
            provider_id: provider_id.into(),
            refresh_token: refresh_token.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
            renew_before: Self::DEFAULT_RENEW_BEFORE,
        }
    }
}

/// A provider's credentials file, as `provider-kit register` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    pub gateway_url: String,
    pub provider_id: String,
    pub refresh_token: Secret,
    /// The gateway's issuer (`iss` of every token it signs).
    pub issuer: String,
    pub jwks_url: String,
}

/// Why a credentials file could not be read or written. Never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} already exists; pass --force to replace it")]
    Exists { path: String },
    #[error(
        "{path} is readable by other users (mode {mode:04o}); run `chmod 600 {path}`, and rotate the token if others may have read it"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("{path} is not a credentials file: {reason}")]
    Invalid { path: String, reason: String },
}

const MAX_CREDENTIALS_BYTES: u64 = 64 * 1024;

impl Credentials {
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::new(
            self.gateway_url.clone(),
            self.provider_id.clone(),
            self.refresh_token.clone(),
        )
    }

    pub fn verifier_config(&self) -> VerifierConfig {
        VerifierConfig::new(
            self.issuer.clone(),
            self.jwks_url.clone(),
            self.provider_id.clone(),
        )
    }

    /// Reads a credentials file, refusing one that other users can read.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CredentialsError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let io = |source| CredentialsError::Io {
            path: shown.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        check_private(&meta, &shown)?;
        if meta.len() > MAX_CREDENTIALS_BYTES {
            return Err(CredentialsError::Invalid {
                path: shown,
                reason: format!("larger than {MAX_CREDENTIALS_BYTES} bytes"),
            });
        }
        let text = std::io::read_to_string(file).map_err(io)?;
        // serde_json's message names the line and field, never the value.
        serde_json::from_str(&text).map_err(|e| CredentialsError::Invalid {
            path: shown,
            reason: e.to_string(),
        })
    }

    /// Writes the file with mode 0600, atomically: a reader sees the old file or the whole new one.
    /// Without `overwrite`, an existing file is left alone and `Exists` returned.
    pub fn save(&self, path: impl AsRef<Path>, overwrite: bool) -> Result<(), CredentialsError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let io = |source| CredentialsError::Io {
            path: shown.clone(),
            source,
        };
        let file_name = path.file_name().ok_or_else(|| CredentialsError::Invalid {
            path: shown.clone(),
            reason: "not a file name".into(),
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let written = write_private(&temp, self).and_then(|()| {
            if overwrite {
                std::fs::rename(&temp, path)
            } else {
                // A hard link fails if the target exists, so two writers cannot clobber each other.
                std::fs::hard_link(&temp, path).and_then(|()| std::fs::remove_file(&temp))
            }
        });
        match written {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Err(CredentialsError::Exists { path: shown })
                } else {
                    Err(io(e))
                }
            }
        }
    }
}

fn write_private(path: &Path, credentials: &Credentials) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let mut body = serde_json::to_vec_pretty(credentials).map_err(std::io::Error::other)?;
    body.push(b'\n');
    file.write_all(&body)?;
    file.sync_all()
}

#[cfg(unix)]
fn check_private(meta: &std::fs::Metadata, path: &str) -> Result<(), CredentialsError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialsError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_meta: &std::fs::Metadata, _path: &str) -> Result<(), CredentialsError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            gateway_url: "http://127.0.0.1:8080".into(),
            provider_id: "dev".into(),
            refresh_token: Secret::new("rt_secret"),
            issuer: "http://127.0.0.1:8080".into(),
            jwks_url: "http://127.0.0.1:8080/.well-known/jwks.json".into(),
        }
    }

    fn temp_dir(label: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pk-cred-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn credentials_are_saved_private_and_read_back() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("dev.json");
        credentials().save(&path, false).expect("saved");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(Credentials::load(&path).expect("loaded"), credentials());
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            1,
            "no temp file left"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_existing_file_is_kept_unless_overwrite_is_asked() {
        let dir = temp_dir("exists");
        let path = dir.join("dev.json");
        std::fs::write(&path, "keep me").expect("write");
        let refused = credentials().save(&path, false);
        assert!(
            matches!(refused, Err(CredentialsError::Exists { .. })),
            "{refused:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "keep me");
        credentials().save(&path, true).expect("overwritten");
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .contains("rt_secret")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused_without_showing_the_token() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("open");
        let path = dir.join("dev.json");
        credentials().save(&path, false).expect("saved");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let refused = Credentials::load(&path).expect_err("too open");
        let message = refused.to_string();
        assert!(message.contains("chmod 600"), "{message}");
        assert!(!message.contains("rt_secret"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_of_credentials_redacts_the_refresh_token() {
        let shown = format!("{:?} {:?}", credentials(), credentials().client_config());
        assert!(!shown.contains("rt_secret"), "{shown}");
    }
}
