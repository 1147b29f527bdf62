//! How this provider makes local accounts: the username policy, the uid and gid ranges, home and
//! shell. A typed struct read from the provider's YAML (unknown keys refused), checked once by
//! `AccountsConfig::check` so the account code never re-checks it.

use std::sync::Arc;

use serde::Deserialize;

use super::backend::{AccountBackend, LdapBackend, LdapConfig, SqliteBackend};
use super::names::{MAX_NAME_LEN, UsernamePolicy, is_valid_name};

/// Ids below this belong to the operating system and its services.
pub const MIN_ID: u32 = 1_000;

/// An inclusive range of uids or gids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdRange {
    pub min: u32,
    pub max: u32,
}

/// `accounts.backend`: where accounts are made. `sqlite` (the default, the mapping store's own
/// table) or `{ldap: {url, base_dn, bind_dn, bind_password_file, …}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum BackendConfig {
    #[default]
    Sqlite,
    Ldap(LdapConfig),
}

impl BackendConfig {
    /// The backend this section describes (reading the LDAP bind password file).
    pub fn build(&self) -> Result<Arc<dyn AccountBackend>, AccountsConfigError> {
        Ok(match self {
            Self::Sqlite => Arc::new(SqliteBackend),
            Self::Ldap(ldap) => {
                Arc::new(LdapBackend::new(ldap.clone()).map_err(AccountsConfigError::Backend)?)
            }
        })
    }
}

/// `accounts.primary_group`: one group every account has as its primary group, instead of a
/// group of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryGroup {
    pub gid: u32,
}

/// The `accounts:` section of a provider's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// How the name of an automatic account is chosen (`requireExplicitMapping: false`).
    pub policy: UsernamePolicy,
    /// The policy behind `identityClaim` when the principal has no usable `siteUsername`.
    pub identity_claim_fallback: UsernamePolicy,
    /// Prefix of `anonymized` names: `ucloud_` gives `ucloud_00001`.
    pub prefix: String,
    pub uid_range: IdRange,
    /// The range of each account's own primary group; unused with `primary_group`.
    pub gid_range: IdRange,
    /// When set, every account's primary group (no group per account is made).
    pub primary_group: Option<PrimaryGroup>,
    /// How long a removed account's name and ids are held before anyone gets them again.
    pub quarantine_days: u32,
    /// How often a pending connection is looked at again (and its state reported again if the
    /// gateway did not take it).
    pub pending_retry_secs: u32,
    /// How long a renamed account's old name stays its alias (and nobody else's) after a policy
    /// change.
    pub rename_grace_days: u32,
    /// Where accounts are made (`sqlite`, or `ldap:` with its section).
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub backend: BackendConfig,
    /// Homes are `{home_prefix}/{name}`.
    pub home_prefix: String,
    pub shell: String,
    /// Names never given to an automatic account, on top of the system's usual ones.
    pub reserved_names: Vec<String>,
    /// Shown to the user while a `serviceProvider` connection waits for an operator.
    pub pending_comment: String,
    pub pending_comment_url: Option<String>,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            policy: UsernamePolicy::FullName,
            identity_claim_fallback: UsernamePolicy::FullName,
            prefix: "ucloud_".into(),
            uid_range: IdRange {
                min: 20_000,
                max: 59_999,
            },
            gid_range: IdRange {
                min: 20_000,
                max: 59_999,
            },
            primary_group: None,
            quarantine_days: 365,
            rename_grace_days: 30,
            pending_retry_secs: 300,
            backend: BackendConfig::Sqlite,
            home_prefix: "/home".into(),
            shell: "/bin/bash".into(),
            reserved_names: Vec::new(),
            pending_comment: "An administrator of this provider will create your account and \
                              link it; you will be told when it is ready."
                .into(),
            pending_comment_url: None,
        }
    }
}

/// What is wrong with an `accounts:` section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsConfigError {
    #[error("accounts.{field}: min must be at least {MIN_ID} and not above max")]
    Range { field: &'static str },
    #[error("accounts.prefix must match ^[a-z_][a-z0-9_-]*$ and have at most 20 characters")]
    Prefix,
    #[error("accounts.{field} must be an absolute path without '..', ':' or control characters")]
    Path { field: &'static str },
    #[error("accounts.pending_comment_url must be an http(s) URL")]
    CommentUrl,
    #[error("accounts.pending_comment must have at most 1000 characters")]
    Comment,
    #[error(
        "accounts.identity_claim_fallback must be a policy that names accounts itself \
         (fullName, gatewayUsername, emailLocalPart or anonymized)"
    )]
    Fallback,
    #[error("accounts.primary_group.gid must be at least {MIN_ID}")]
    PrimaryGroup,
    #[error("{0}")]
    Backend(String),
}

impl AccountsConfig {
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let config: Self = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.to_string())?;
        Ok(config)
    }

    pub fn check(&self) -> Result<(), AccountsConfigError> {
        for (field, range) in [("uid_range", self.uid_range), ("gid_range", self.gid_range)] {
            if range.min < MIN_ID || range.min > range.max {
                return Err(AccountsConfigError::Range { field });
            }
        }
        if !self.identity_claim_fallback.names_by_itself() {
            return Err(AccountsConfigError::Fallback);
        }
        if self.primary_group.is_some_and(|g| g.gid < MIN_ID) {
            return Err(AccountsConfigError::PrimaryGroup);
        }
        if let BackendConfig::Ldap(ldap) = &self.backend
            && let Some(problem) = ldap.problem()
        {
            return Err(AccountsConfigError::Backend(format!(
                "accounts.backend.ldap: {problem}"
            )));
        }
        if !is_valid_name(&self.prefix) || self.prefix.len() > MAX_NAME_LEN - 12 {
            return Err(AccountsConfigError::Prefix);
        }
        for (field, path) in [("home_prefix", &self.home_prefix), ("shell", &self.shell)] {
            if !is_safe_path(path) {
                return Err(AccountsConfigError::Path { field });
            }
        }
        if self.pending_comment.chars().count() > 1000 {
            return Err(AccountsConfigError::Comment);
        }
        if let Some(url) = &self.pending_comment_url {
            let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(AccountsConfigError::CommentUrl);
            }
        }
        Ok(())
    }

    /// Seconds a removed account is held in the quarantine ledger.
    pub fn quarantine_secs(&self) -> i64 {
        i64::from(self.quarantine_days) * 86_400
    }

    /// `{home_prefix}/{name}`.
    pub fn home_of(&self, name: &str) -> String {
        format!("{}/{name}", self.home_prefix.trim_end_matches('/'))
    }
}

/// Absolute, no `..`, nothing that would break a passwd line.
fn is_safe_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 200
        && !path.split('/').any(|part| part == "..")
        && !path.chars().any(|c| c == ':' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_is_valid() {
        assert_eq!(AccountsConfig::default().check(), Ok(()));
        assert_eq!(
            AccountsConfig::default().home_of("ase_odegard_01"),
            "/home/ase_odegard_01"
        );
    }

    #[test]
    fn a_yaml_section_overrides_defaults_and_refuses_unknown_keys() {
        let config = AccountsConfig::from_yaml(
            "policy: anonymized\nprefix: hpc_\nuid_range: {min: 5000, max: 5009}\nhome_prefix: /data/home/\n",
        )
        .expect("valid");
        assert_eq!(config.policy, UsernamePolicy::Anonymized);
        assert_eq!(
            config.uid_range,
            IdRange {
                min: 5000,
                max: 5009
            }
        );
        assert_eq!(config.home_of("hpc_00001"), "/data/home/hpc_00001");
        let typo = AccountsConfig::from_yaml("polcy: anonymized\n").expect_err("unknown key");
        assert!(typo.contains("unknown field"), "{typo}");
    }

    #[test]
    fn ranges_that_reach_system_ids_or_are_reversed_are_refused() {
        for (min, max) in [(0, 100), (999, 5000), (6000, 5000)] {
            let config = AccountsConfig {
                uid_range: IdRange { min, max },
                ..AccountsConfig::default()
            };
            assert_eq!(
                config.check(),
                Err(AccountsConfigError::Range { field: "uid_range" }),
                "{min}-{max}"
            );
        }
    }

    #[test]
    fn paths_and_prefixes_that_could_break_a_passwd_line_are_refused() {
        let bad_home = AccountsConfig {
            home_prefix: "/home:/x".into(),
            ..AccountsConfig::default()
        };
        assert!(bad_home.check().is_err());
        let relative = AccountsConfig {
            shell: "bash".into(),
            ..AccountsConfig::default()
        };
        assert!(relative.check().is_err());
        let prefix = AccountsConfig {
            prefix: "Root ".into(),
            ..AccountsConfig::default()
        };
        assert_eq!(prefix.check(), Err(AccountsConfigError::Prefix));
    }
}
