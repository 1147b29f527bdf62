//! The dev provider's settings. `DevProviderConfig` is everything `serve` needs, built from values
//! (what `gateway dev` does); `ServeConfig` is `provider-kit serve`'s view: defaults, then the YAML
//! file of `--config`, then flags (`ServeOptions`). Unknown keys in the file are refused, so a typo
//! is an error rather than a silently ignored setting.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::DevProviderError;
use crate::client::{Credentials, Secret};
pub use crate::tls::TlsFiles;
use crate::usermap::{AccountsConfig, UsernamePolicy};

/// Everything the dev provider needs to run, as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevProviderConfig {
    /// The gateway's URL and issuer, this provider's id and its refresh token.
    pub credentials: Credentials,
    /// The manifest to serve (YAML, or JSON by a .json extension); re-read on every request.
    pub manifest: PathBuf,
    /// Where storage folders and the mapping store (`usermap.db`) live (created if missing).
    pub data_dir: PathBuf,
    pub max_upload_bytes: u64,
    pub max_job_secs: u64,
    /// The local users a browser may sign in as to connect an account (`FileAuthenticator`'s
    /// YAML); without one, the connection flow's login says no local users are configured.
    pub users_file: Option<PathBuf>,
    /// How automatic accounts are made: username policy, uid/gid ranges, home prefix.
    pub accounts: AccountsConfig,
}

impl DevProviderConfig {
    pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 * 1024 * 1024;
    pub const DEFAULT_MAX_JOB_SECS: u64 = 24 * 3600;

    /// A config with the default limits.
    pub fn new(
        credentials: Credentials,
        manifest: impl Into<PathBuf>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            credentials,
            manifest: manifest.into(),
            data_dir: data_dir.into(),
            max_upload_bytes: Self::DEFAULT_MAX_UPLOAD_BYTES,
            max_job_secs: Self::DEFAULT_MAX_JOB_SECS,
            users_file: None,
            accounts: AccountsConfig::default(),
        }
    }

    /// A config for a gateway whose issuer is its own URL (no `public_url`), with the default
    /// limits: the JWKS is at `{gateway_url}/.well-known/jwks.json`.
    pub fn for_gateway(
        gateway_url: &str,
        provider_id: impl Into<String>,
        refresh_token: impl Into<Secret>,
        manifest: impl Into<PathBuf>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        let gateway_url = gateway_url.trim_end_matches('/').to_owned();
        let credentials = Credentials {
            jwks_url: format!("{gateway_url}/.well-known/jwks.json"),
            issuer: gateway_url.clone(),
            gateway_url,
            provider_id: provider_id.into(),
            refresh_token: refresh_token.into(),
        };
        Self::new(credentials, manifest, data_dir)
    }
}

/// What `provider-kit serve` was given on its command line; `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// A YAML file with any of: credentials, listen, manifest, data_dir, max_upload_bytes,
    /// max_job_secs, users_file, accounts. The other options override it.
    pub config: Option<PathBuf>,
    pub credentials: Option<PathBuf>,
    pub listen: Option<String>,
    pub manifest: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub users_file: Option<PathBuf>,
    /// Overrides `accounts.policy` of the file.
    pub username_policy: Option<UsernamePolicy>,
    /// Serve HTTPS with this certificate chain (PEM) and `tls_key`; reloaded on SIGHUP and on
    /// file change.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    credentials: Option<PathBuf>,
    listen: Option<String>,
    manifest: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    max_upload_bytes: Option<u64>,
    max_job_secs: Option<u64>,
    users_file: Option<PathBuf>,
    accounts: Option<AccountsConfig>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

/// Everything `provider-kit serve` needs, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub credentials: PathBuf,
    pub listen: String,
    pub manifest: PathBuf,
    pub data_dir: PathBuf,
    pub max_upload_bytes: u64,
    pub max_job_secs: u64,
    pub users_file: Option<PathBuf>,
    pub accounts: AccountsConfig,
    /// HTTPS instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl ServeConfig {
    pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
    pub const DEFAULT_DATA_DIR: &str = "./provider-data";

    pub fn resolve(options: ServeOptions) -> Result<Self, DevProviderError> {
        let file = match &options.config {
            Some(path) => read(path)?,
            None => FileConfig::default(),
        };
        // Paths in the file are relative to the file, like every config format users know.
        let base = options
            .config
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        let relative = |path: PathBuf| match &base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        };
        let credentials = options
            .credentials
            .or(file.credentials.map(&relative))
            .ok_or(DevProviderError::Missing(
                "no credentials file: pass --credentials (written by `provider-kit register`)",
            ))?;
        let manifest =
            options
                .manifest
                .or(file.manifest.map(&relative))
                .ok_or(DevProviderError::Missing(
                    "no manifest: pass --manifest (e.g. manifests/dev.manifest.yaml)",
                ))?;
        let mut accounts = file.accounts.unwrap_or_default();
        if let Some(policy) = options.username_policy {
            accounts.policy = policy;
        }
        accounts.check()?;
        let tls = match (
            options.tls_cert.or(file.tls_cert.map(&relative)),
            options.tls_key.or(file.tls_key.map(&relative)),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => return Err(DevProviderError::Missing("--tls-cert needs --tls-key")),
            (None, Some(_)) => return Err(DevProviderError::Missing("--tls-key needs --tls-cert")),
        };
        Ok(Self {
            tls,
            credentials,
            manifest,
            listen: options
                .listen
                .or(file.listen)
                .unwrap_or_else(|| Self::DEFAULT_LISTEN.to_owned()),
            data_dir: options
                .data_dir
                .or(file.data_dir.map(&relative))
                .unwrap_or_else(|| PathBuf::from(Self::DEFAULT_DATA_DIR)),
            max_upload_bytes: file
                .max_upload_bytes
                .unwrap_or(DevProviderConfig::DEFAULT_MAX_UPLOAD_BYTES),
            max_job_secs: file
                .max_job_secs
                .unwrap_or(DevProviderConfig::DEFAULT_MAX_JOB_SECS),
            users_file: options.users_file.or(file.users_file.map(&relative)),
            accounts,
        })
    }

    /// Reads the credentials file (refusing one others can read) into a `DevProviderConfig`.
    pub fn dev_config(&self) -> Result<DevProviderConfig, DevProviderError> {
        let credentials = Credentials::load(&self.credentials)?;
        Ok(DevProviderConfig {
            credentials,
            manifest: self.manifest.clone(),
            data_dir: self.data_dir.clone(),
            max_upload_bytes: self.max_upload_bytes,
            max_job_secs: self.max_job_secs,
            users_file: self.users_file.clone(),
            accounts: self.accounts.clone(),
        })
    }
}

/// The `accounts:` section and `data_dir` of a `serve` config file, for the `accounts` commands.
pub fn accounts_section(
    path: &Path,
) -> Result<(AccountsConfig, Option<PathBuf>), DevProviderError> {
    let file = read(path)?;
    let accounts = file.accounts.unwrap_or_default();
    accounts.check()?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let data_dir = file.data_dir.map(|dir| {
        if dir.is_relative() {
            base.join(dir)
        } else {
            dir
        }
    });
    Ok((accounts, data_dir))
}

fn read(path: &Path) -> Result<FileConfig, DevProviderError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DevProviderError::ConfigRead {
        path: shown.clone(),
        source,
    })?;
    serde_yaml::from_str(&text).map_err(|e| DevProviderError::ConfigInvalid {
        path: shown,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(config: Option<PathBuf>) -> ServeOptions {
        ServeOptions {
            config,
            ..ServeOptions::default()
        }
    }

    #[test]
    fn flags_override_the_file_and_file_paths_are_relative_to_it() {
        let dir = std::env::temp_dir().join(format!("pk-serve-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("serve.yaml");
        std::fs::write(
            &file,
            "credentials: dev.json\nmanifest: m.yaml\nlisten: 127.0.0.1:1\nmax_job_secs: 60\n",
        )
        .expect("write");
        let mut with_flag = options(Some(file.clone()));
        with_flag.listen = Some("127.0.0.1:2".into());
        let config = ServeConfig::resolve(with_flag).expect("resolved");
        assert_eq!(config.credentials, dir.join("dev.json"));
        assert_eq!(config.manifest, dir.join("m.yaml"));
        assert_eq!(config.listen, "127.0.0.1:2");
        assert_eq!(config.max_job_secs, 60);
        assert_eq!(
            config.data_dir,
            PathBuf::from(ServeConfig::DEFAULT_DATA_DIR)
        );

        std::fs::write(&file, "credential: typo.json\n").expect("write");
        let refused = ServeConfig::resolve(options(Some(file))).expect_err("unknown key");
        assert!(refused.to_string().contains("unknown field"), "{refused}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_users_file_and_the_account_settings_come_from_the_file_or_the_flags() {
        let dir = std::env::temp_dir().join(format!("pk-serve-accounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("serve.yaml");
        std::fs::write(
            &file,
            "credentials: c.json\nmanifest: m.yaml\nusers_file: users.yaml\n\
             accounts: {policy: anonymized, uid_range: {min: 30000, max: 30009}}\n",
        )
        .expect("write");
        let config = ServeConfig::resolve(options(Some(file.clone()))).expect("resolved");
        assert_eq!(config.users_file, Some(dir.join("users.yaml")));
        assert_eq!(config.accounts.policy, UsernamePolicy::Anonymized);
        assert_eq!(config.accounts.uid_range.min, 30_000);
        assert_eq!(config.accounts.home_prefix, "/home");

        let mut flags = options(Some(file.clone()));
        flags.users_file = Some(PathBuf::from("/etc/other.yaml"));
        flags.username_policy = Some(UsernamePolicy::GatewayUsername);
        let config = ServeConfig::resolve(flags).expect("resolved");
        assert_eq!(config.users_file, Some(PathBuf::from("/etc/other.yaml")));
        assert_eq!(config.accounts.policy, UsernamePolicy::GatewayUsername);

        std::fs::write(
            &file,
            "credentials: c.json\nmanifest: m.yaml\naccounts: {uid_range: {min: 0, max: 10}}\n",
        )
        .expect("write");
        let refused = ServeConfig::resolve(options(Some(file))).expect_err("system uids");
        assert!(
            refused.to_string().contains("accounts.uid_range"),
            "{refused}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn credentials_and_manifest_are_required() {
        let missing = ServeConfig::resolve(options(None)).expect_err("no credentials");
        assert!(missing.to_string().contains("--credentials"), "{missing}");
    }

    #[test]
    fn a_config_from_values_finds_the_keys_at_the_gateway() {
        let config =
            DevProviderConfig::for_gateway("http://127.0.0.1:8080/", "dev", "rt_x", "m.yaml", "d");
        assert_eq!(config.credentials.gateway_url, "http://127.0.0.1:8080");
        assert_eq!(config.credentials.issuer, "http://127.0.0.1:8080");
        assert_eq!(
            config.credentials.jwks_url,
            "http://127.0.0.1:8080/.well-known/jwks.json"
        );
        assert_eq!(config.max_job_secs, DevProviderConfig::DEFAULT_MAX_JOB_SECS);
        assert_eq!(config.users_file, None);
        assert_eq!(config.accounts, AccountsConfig::default());
        assert!(!format!("{config:?}").contains("rt_x"));
    }
}
