//! Gateway configuration: embedded defaults → YAML file → `GATEWAY_*` environment (SPEC §7).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod keys;
pub use keys::{KEYS, Key, Kind};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP listener binds.
    pub listen: String,
    /// The issuer of every token and the base of every URL the gateway hands out.
    /// Empty means `http://{listen}`.
    pub public_url: String,
    /// `sqlite://…` or `postgres://…`. Empty means `sqlite://{data_dir}/gateway.db`.
    pub database_url: String,
    /// The default SQLite database and (with nothing configured) the key-encryption key live here.
    pub data_dir: PathBuf,
    /// Lifetime of provider access tokens, seconds (at most 600).
    pub access_token_ttl_secs: i64,
    /// Lifetime of service tokens, seconds (at most 300).
    pub service_token_ttl_secs: i64,
    /// Lifetime of a sign-in session, seconds.
    pub session_ttl_secs: i64,
    /// How long a checked session or API token is trusted before the database is asked again,
    /// milliseconds. Revocations apply at once on this replica and, through the change feed, within
    /// a second on others; this bounds how long a lost notification can go unnoticed.
    pub credential_cache_ms: i64,
    /// How often a replica re-reads the key ring from the database, seconds.
    pub key_reload_secs: u64,
    /// The change feed's safety net (SPEC §10): every this many seconds a replica re-reads
    /// everything it caches, in case a change notification was lost.
    pub change_resync_secs: u64,
    /// A rotated-in key is published at once and signs only this many seconds later, so providers
    /// (which refetch the JWKS on an unknown kid at most every 30 s by default) always know it.
    pub key_activation_secs: i64,
    /// Serve HTTPS with this certificate and key; absent means plain HTTP (behind a TLS proxy).
    pub tls: Option<TlsConfig>,
    /// How provider manifests are fetched and cached.
    pub manifest: ManifestConfig,
    /// How user requests are forwarded to providers.
    pub broker: BrokerConfig,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client. Empty: the
    /// peer address is the client.
    pub trusted_proxies: Vec<crate::netaddr::IpNet>,
    /// Throttling of failed sign-ins (SPEC §7).
    pub sign_in: SignInConfig,
    /// Who may register which providers.
    pub providers: ProvidersConfig,
    /// Address of the Prometheus listener (`GET /metrics`); empty turns it off.
    pub metrics_listen: String,
    /// Timeouts and limits of every HTTP listener.
    pub server: ServerConfig,
    /// The key-encryption key that seals the signing keys in the database (SPEC §10).
    pub keys: KeysConfig,
    /// How log lines are written to stderr: `text` for people, `json` (one object a line) for
    /// collectors. The level is `GATEWAY_LOG`.
    pub log_format: LogFormat,
    /// OpenID Providers users sign in with (SPEC §8). Empty: local passwords only.
    pub identity_providers: Vec<crate::oidc::IdentityProviderConfig>,
    /// How accounts of identities seen for the first time start.
    pub accounts: crate::oidc::AccountsConfig,
    /// The federation's name, at the top of every web page.
    pub federation_name: String,
    /// Documents every user accepts before using the gateway (SPEC §9). Empty: none.
    pub agreements: Vec<AgreementConfig>,
}

/// Where the key-encryption key comes from: `GATEWAY_KEY_ENCRYPTION_KEY` (the key itself), else
/// `encryption_key_file`, else `{data_dir}/keys/kek` (generated on first run). Every replica on one
/// database needs the same key.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// A file holding 32 random bytes in standard base64 (mode 0600).
    pub encryption_key_file: Option<PathBuf>,
    /// From `GATEWAY_KEY_ENCRYPTION_KEY` only; never written to or read from a file.
    #[serde(skip)]
    pub encryption_key: Option<String>,
}

impl std::fmt::Debug for KeysConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysConfig")
            .field("encryption_key_file", &self.encryption_key_file)
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// The shape of a log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} must be text or json")),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInConfig {
    /// Failed sign-ins allowed per username and per client address within `window_secs`.
    pub max_failures: i64,
    pub window_secs: i64,
    /// The first lock, seconds; it doubles with every further failure up to `max_lock_secs`.
    pub lock_secs: i64,
    pub max_lock_secs: i64,
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_secs: 900,
            lock_secs: 60,
            max_lock_secs: 3600,
        }
    }
}

impl SignInConfig {
    pub fn policy(&self) -> crate::accounts::ThrottlePolicy {
        crate::accounts::ThrottlePolicy {
            max_failures: self.max_failures,
            window_ms: self.window_secs * 1000,
            first_lock_ms: self.lock_secs * 1000,
            max_lock_ms: self.max_lock_secs * 1000,
        }
    }
}

/// What a client may hold of a listener (SPEC §7): each listener (public, metrics) applies these.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// From accept until a request's headers are complete (the TLS handshake included), ms.
    pub header_read_timeout_ms: u64,
    /// How long a connection with no request in flight stays open, ms.
    pub idle_timeout_ms: u64,
    /// Open connections per listener; one more is closed at once.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 4096,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    pub connect_timeout_ms: u64,
    /// Until the provider's response headers arrive; the body may stream for longer.
    pub response_timeout_ms: u64,
    /// Largest request body forwarded to a provider.
    pub max_body_bytes: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 3000,
            response_timeout_ms: 30_000,
            max_body_bytes: 1 << 30,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManifestConfig {
    /// How often a valid manifest is re-fetched, seconds.
    pub refresh_secs: i64,
    /// First retry after a failed fetch, seconds; doubles per failure.
    pub retry_secs: i64,
    /// Longest wait between retries of a failing provider, seconds.
    pub max_backoff_secs: i64,
    pub connect_timeout_ms: u64,
    /// Whole request, body included.
    pub timeout_ms: u64,
    /// PEM CA certificates trusted in addition to the system roots (private CAs).
    pub extra_roots: Vec<PathBuf>,
    /// Production provider hostnames allowed to resolve to loopback or private addresses
    /// (a site's provider on the gateway's own private network). Empty: none.
    pub allow_private: Vec<String>,
    /// How often the refresher looks for due manifests, milliseconds.
    pub poll_ms: u64,
}

impl Default for ManifestConfig {
    fn default() -> Self {
        Self {
            refresh_secs: 300,
            retry_secs: 10,
            max_backoff_secs: 3600,
            connect_timeout_ms: 3000,
            timeout_ms: 10_000,
            extra_roots: Vec::new(),
            allow_private: Vec::new(),
            poll_ms: 1000,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersConfig {
    /// Who may register a test provider (one that may point at any address, loopback included).
    pub test_registration: TestRegistration,
}

/// Who may register a test provider (SPEC §1): `gateway serve` defaults to admins only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestRegistration {
    /// Any signed-in user, who becomes its owner (`gateway dev`).
    Owner,
    /// Admins only.
    #[default]
    Admin,
}

impl std::str::FromStr for TestRegistration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            other => Err(format!("{other:?} must be owner or admin")),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            database_url: String::new(),
            data_dir: PathBuf::from("./data"),
            access_token_ttl_secs: 600,
            service_token_ttl_secs: 300,
            session_ttl_secs: 12 * 3600,
            credential_cache_ms: 5000,
            key_reload_secs: 30,
            change_resync_secs: 30,
            key_activation_secs: 60,
            tls: None,
            manifest: ManifestConfig::default(),
            broker: BrokerConfig::default(),
            trusted_proxies: Vec::new(),
            sign_in: SignInConfig::default(),
            providers: ProvidersConfig::default(),
            metrics_listen: "127.0.0.1:9464".into(),
            server: ServerConfig::default(),
            keys: KeysConfig::default(),
            log_format: LogFormat::default(),
            identity_providers: Vec::new(),
            agreements: Vec::new(),
            accounts: crate::oidc::AccountsConfig::default(),
            federation_name: "Research Federation".into(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("config file {0}: {1}")]
    Parse(PathBuf, serde_yaml::Error),
    #[error("environment variable {0}: {1}")]
    Env(&'static str, String),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then the file (if any), then `GATEWAY_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Read(path.to_owned(), e))?;
                if text.trim().is_empty() {
                    Self::default()
                } else {
                    serde_yaml::from_str(&text)
                        .map_err(|e| ConfigError::Parse(path.to_owned(), e))?
                }
            }
            None => Self::default(),
        };
        let mut config = keys::apply_env(config, &env)?;
        if let Some(v) = env("GATEWAY_KEY_ENCRYPTION_KEY") {
            config.keys.encryption_key = Some(v);
        }
        config.validate()?;
        Ok(config)
    }

    /// Defaults and the process environment only: what `gateway serve` uses with no `--config`.
    pub fn from_process_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(file, |k| std::env::var(k).ok())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=600).contains(&self.access_token_ttl_secs) {
            return Err(ConfigError::Invalid(
                "access_token_ttl_secs must be between 1 and 600 (SPEC §2.1)".into(),
            ));
        }
        if !(1..=300).contains(&self.service_token_ttl_secs) {
            return Err(ConfigError::Invalid(
                "service_token_ttl_secs must be between 1 and 300 (SPEC §2.2)".into(),
            ));
        }
        let m = &self.manifest;
        if m.refresh_secs < 1 || m.retry_secs < 1 || m.max_backoff_secs < m.retry_secs {
            return Err(ConfigError::Invalid(
                "manifest: refresh_secs and retry_secs must be >= 1 and max_backoff_secs >= retry_secs".into(),
            ));
        }
        if m.timeout_ms == 0 || m.connect_timeout_ms == 0 || m.poll_ms == 0 {
            return Err(ConfigError::Invalid(
                "manifest: timeouts must be > 0".into(),
            ));
        }
        if !(0..=60_000).contains(&self.credential_cache_ms) {
            return Err(ConfigError::Invalid(
                "credential_cache_ms must be between 0 and 60000".into(),
            ));
        }
        if !(0..=86_400).contains(&self.key_activation_secs) {
            return Err(ConfigError::Invalid(
                "key_activation_secs must be between 0 and 86400".into(),
            ));
        }
        let b = &self.broker;
        if b.connect_timeout_ms == 0 || b.response_timeout_ms == 0 || b.max_body_bytes == 0 {
            return Err(ConfigError::Invalid(
                "broker: timeouts and max_body_bytes must be > 0".into(),
            ));
        }
        let t = &self.sign_in;
        if t.max_failures < 1
            || t.window_secs < 1
            || t.lock_secs < 1
            || t.max_lock_secs < t.lock_secs
        {
            return Err(ConfigError::Invalid(
                "sign_in: max_failures, window_secs and lock_secs must be >= 1 and max_lock_secs >= lock_secs".into(),
            ));
        }
        let l = &self.server;
        if l.header_read_timeout_ms == 0 || l.idle_timeout_ms == 0 || l.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "server: header_read_timeout_ms, idle_timeout_ms and max_connections must be > 0"
                    .into(),
            ));
        }
        if self.session_ttl_secs < 60 {
            return Err(ConfigError::Invalid(
                "session_ttl_secs must be at least 60".into(),
            ));
        }
        if !self.public_url.is_empty() {
            let url = url::Url::parse(&self.public_url)
                .map_err(|e| ConfigError::Invalid(format!("public_url: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(ConfigError::Invalid(
                    "public_url must be an http(s) URL with a host".into(),
                ));
            }
        }
        crate::oidc::config::validate(&self.identity_providers).map_err(ConfigError::Invalid)?;
        validate_agreements(&self.agreements).map_err(ConfigError::Invalid)?;
        let db = self.database_url();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(
                "database_url must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        Ok(())
    }

    /// The issuer: `public_url` without a trailing slash, or `http(s)://{listen}`.
    pub fn issuer(&self, bound: Option<std::net::SocketAddr>) -> String {
        if self.public_url.is_empty() {
            let scheme = if self.tls.is_some() { "https" } else { "http" };
            match bound {
                Some(addr) => format!("{scheme}://{addr}"),
                None => format!("{scheme}://{}", self.listen),
            }
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("gateway.db").display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    /// A commented default configuration, for `gateway config example`: every key with its
    /// `GATEWAY_*` variable, written from the one declaration the environment is read with.
    pub fn example() -> String {
        keys::example()
    }
}

/// Hide a password in a database URL before it reaches a log.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn no_file_and_no_variables_gives_the_embedded_defaults() {
        let c = Config::load(None, |_| None).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://./data/gateway.db");
        assert_eq!(c.issuer(None), "http://127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("gw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gateway.yaml");
        std::fs::write(
            &file,
            "listen: 0.0.0.0:9000\npublic_url: https://a.example/\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("GATEWAY_LISTEN", "127.0.0.1:7000")].into();
        let c = Config::load(Some(&file), |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7000");
        assert_eq!(c.issuer(None), "https://a.example");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = std::env::temp_dir().join(format!("gw-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gateway.yaml");
        std::fs::write(&file, "listne: 0.0.0.0:9000\n").unwrap();
        let err = Config::load(Some(&file), |_| None).unwrap_err().to_string();
        assert!(err.contains("listne"), "{err}");
        let err = Config::load(None, |k| {
            (k == "GATEWAY_ACCESS_TOKEN_TTL_SECS").then(|| "3600".into())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("600"), "{err}");
        let err = Config::load(None, |k| {
            (k == "GATEWAY_DATABASE_URL").then(|| "mysql://x".into())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("database_url"), "{err}");
        let err = Config::load(None, |k| {
            (k == "GATEWAY_PROVIDERS_TEST_REGISTRATION").then(|| "anyone".into())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("GATEWAY_PROVIDERS_TEST_REGISTRATION"), "{err}");
    }

    #[test]
    fn only_admins_register_test_providers_unless_the_operator_says_owner() {
        let c = Config::load(None, |_| None).unwrap();
        assert_eq!(c.providers.test_registration, TestRegistration::Admin);
        let c = Config::load(None, |k| {
            (k == "GATEWAY_PROVIDERS_TEST_REGISTRATION").then(|| "owner".into())
        })
        .unwrap();
        assert_eq!(c.providers.test_registration, TestRegistration::Owner);
        let example: Config = serde_yaml::from_str(&Config::example()).unwrap();
        assert_eq!(example.providers.test_registration, TestRegistration::Admin);
    }

    #[test]
    fn passwords_never_reach_debug_output() {
        let c = Config {
            database_url: "postgres://gw:hunter2@db/gw".into(),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn the_key_encryption_key_comes_from_the_environment_and_never_reaches_debug_output() {
        let env: HashMap<&str, &str> = [
            (
                "GATEWAY_KEY_ENCRYPTION_KEY",
                "c2VjcmV0LWtleS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
            ),
            ("GATEWAY_KEY_ENCRYPTION_KEY_FILE", "/run/secrets/kek"),
        ]
        .into();
        let c = Config::load(None, |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            c.keys.encryption_key.as_deref(),
            Some("c2VjcmV0LWtleS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=")
        );
        assert_eq!(
            c.keys.encryption_key_file.as_deref(),
            Some(Path::new("/run/secrets/kek"))
        );
        assert!(!format!("{:?}", c.keys).contains("c2VjcmV0"));
        assert!(!serde_yaml::to_string(&c).unwrap().contains("c2VjcmV0"));
    }

    #[test]
    fn the_example_parses_to_the_defaults() {
        let c: Config = serde_yaml::from_str(&Config::example()).unwrap();
        assert_eq!(c.listen, Config::default().listen);
        assert_eq!(c.sign_in.max_failures, 5);
        assert!(c.trusted_proxies.is_empty());
    }

    #[test]
    fn identity_providers_and_auto_activation_come_from_the_environment() {
        let env: HashMap<&str, &str> = [
            (
                "GATEWAY_IDENTITY_PROVIDERS",
                r#"[{"id":"wayf","display_name":"WAYF","issuer":"https://wayf.example","client_id":"gw","token_auth":"client_secret_post"}]"#,
            ),
            ("GATEWAY_ACCOUNTS_AUTO_ACTIVATE", "true"),
        ]
        .into();
        let c = Config::load(None, |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.identity_providers.len(), 1);
        assert_eq!(c.identity_providers[0].id, "wayf");
        assert!(c.accounts.auto_activate);
        let err = Config::load(None, |k| {
            (k == "GATEWAY_IDENTITY_PROVIDERS").then(|| {
                r#"[{"id":"x","display_name":"X","issuer":"http://idp.example","client_id":"gw"}]"#
                    .into()
            })
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn trusted_proxies_and_the_credential_cache_come_from_the_environment() {
        let env: HashMap<&str, &str> = [
            ("GATEWAY_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
            ("GATEWAY_CREDENTIAL_CACHE_MS", "0"),
        ]
        .into();
        let c = Config::load(None, |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.credential_cache_ms, 0);
        let err = Config::load(None, |k| {
            (k == "GATEWAY_TRUSTED_PROXIES").then(|| "proxy.example".into())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("GATEWAY_TRUSTED_PROXIES"), "{err}");
    }
}

/// One entry of `agreements:` in the config.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AgreementConfig {
    /// Short id, in the API (`{"agreement":"<id>"}`).
    pub id: String,
    /// A new version asks every user again.
    pub version: String,
    pub title: String,
    /// The text, shown on `/agreements` (plain text).
    pub file: std::path::PathBuf,
}

/// Checks ids, versions and titles (the files are read by `policy::Agreements::load`).
pub fn validate_agreements(agreements: &[AgreementConfig]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for a in agreements {
        let id_ok = a.id.len() <= 63
            && a.id.starts_with(|c: char| c.is_ascii_lowercase())
            && a.id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(format!(
                "agreements: id {:?} must match ^[a-z][a-z0-9-]{{0,62}}$",
                a.id
            ));
        }
        if !seen.insert(a.id.as_str()) {
            return Err(format!("agreements: id {:?} is listed twice", a.id));
        }
        for (field, value, max) in [("version", &a.version, 64), ("title", &a.title, 200)] {
            if value.trim().is_empty() || value.chars().count() > max {
                return Err(format!(
                    "agreements: {}: {field} must have 1-{max} characters",
                    a.id
                ));
            }
        }
    }
    Ok(())
}
