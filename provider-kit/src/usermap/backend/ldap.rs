//! The LDAP backend: accounts are `posixAccount` entries (`uid=<name>,{people_dn}`, structural class
//! `account`) with a primary `posixGroup` (`cn=<name>,{groups_dn}`), in a directory that also holds
//! entries provider-kit did not make. A name is free only when no `posixAccount` has it as `uid` and
//! no `posixGroup` has it as `cn` anywhere under `base_dn`; the add of the entry itself is the
//! final word, since a DN exists once (`entryAlreadyExists` means another writer won, and the caller
//! walks on to its next name). Ids are reserved in `ldap_ids.rs`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, dn_escape, ldap_escape,
};
use serde::Deserialize;

use super::{AccountBackend, BackendError, BackendFuture, BackendKind, BackendResult};
use crate::usermap::config::IdRange;
use crate::usermap::model::LocalAccount;
use crate::usermap::store::{AccountTx, IdKind, NewAccount};

/// `entryAlreadyExists` (RFC 4511).
pub(super) const ALREADY_EXISTS: u32 = 68;
/// `noSuchObject`.
pub(super) const NO_SUCH_OBJECT: u32 = 32;
/// How long one LDAP operation (or the connection) may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `accounts.backend.ldap`: where the accounts live and how to write them.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host:636`, or `ldap://host:389` with `starttls: true`; plain `ldap://` (the bind
    /// password in clear) only to a loopback address.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// The subtree searched for names and ids: `dc=example,dc=org`.
    pub base_dn: String,
    /// Where new accounts go; default `ou=people,{base_dn}`.
    #[serde(default)]
    pub people_dn: Option<String>,
    /// Where new primary groups go; default `ou=groups,{base_dn}`.
    #[serde(default)]
    pub groups_dn: Option<String>,
    /// Where provider-kit's id reservations go; default `ou=ucloud-ids,{base_dn}`.
    #[serde(default)]
    pub ids_dn: Option<String>,
    /// The DN provider-kit binds as; it must be allowed to add entries under the three DNs above.
    pub bind_dn: String,
    /// A file holding the bind password (first line); keep it 0600.
    pub bind_password_file: PathBuf,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("base_dn", &self.base_dn)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password_file", &self.bind_password_file)
            .finish_non_exhaustive()
    }
}

impl LdapConfig {
    pub fn people_dn(&self) -> String {
        self.people_dn
            .clone()
            .unwrap_or_else(|| format!("ou=people,{}", self.base_dn))
    }
    pub fn groups_dn(&self) -> String {
        self.groups_dn
            .clone()
            .unwrap_or_else(|| format!("ou=groups,{}", self.base_dn))
    }
    pub fn ids_dn(&self) -> String {
        self.ids_dn
            .clone()
            .unwrap_or_else(|| format!("ou=ucloud-ids,{}", self.base_dn))
    }

    /// What is wrong with the section, if anything (the password file is read by `LdapBackend::new`).
    pub fn problem(&self) -> Option<&'static str> {
        let url_ok = reqwest::Url::parse(&self.url)
            .is_ok_and(|u| matches!(u.scheme(), "ldap" | "ldaps") && u.host_str().is_some());
        if !url_ok {
            return Some("url must be an ldap:// or ldaps:// URL with a host");
        }
        let plain = self.url.starts_with("ldap://") && !self.starttls;
        let loopback = reqwest::Url::parse(&self.url).ok().is_some_and(|u| {
            let host = u.host_str().unwrap_or_default();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        if plain && !loopback {
            return Some(
                "a plain ldap:// URL sends the bind password in clear: use ldaps://, or set \
                 starttls: true (plain ldap:// is for a loopback address only)",
            );
        }
        if self.base_dn.trim().is_empty() || self.bind_dn.trim().is_empty() {
            return Some("base_dn and bind_dn must not be empty");
        }
        None
    }
}

/// Accounts in an LDAP directory. Each call opens its own bound connection.
pub struct LdapBackend {
    config: LdapConfig,
    password: String,
    pub(super) people_dn: String,
    pub(super) groups_dn: String,
    pub(super) ids_dn: String,
}

impl std::fmt::Debug for LdapBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// `ldap3`'s error as the backend's, naming the operation.
pub(super) fn ldap_error(operation: &'static str) -> impl FnOnce(LdapError) -> BackendError {
    move |error| BackendError::Ldap {
        operation,
        detail: error.to_string(),
    }
}

impl LdapBackend {
    /// Reads the bind password file; the directory is first contacted by the first call.
    pub fn new(config: LdapConfig) -> Result<Self, String> {
        if let Some(problem) = config.problem() {
            return Err(format!("accounts.backend.ldap: {problem}"));
        }
        let text = std::fs::read_to_string(&config.bind_password_file).map_err(|e| {
            format!(
                "accounts.backend.ldap.bind_password_file {}: {e}",
                config.bind_password_file.display()
            )
        })?;
        let password = text.lines().next().unwrap_or_default().to_owned();
        if password.is_empty() {
            return Err("accounts.backend.ldap.bind_password_file is empty".into());
        }
        Ok(Self {
            people_dn: config.people_dn(),
            groups_dn: config.groups_dn(),
            ids_dn: config.ids_dn(),
            config,
            password,
        })
    }

    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// A connection bound as `bind_dn`.
    pub(super) async fn connect(&self) -> BackendResult<Ldap> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_starttls(self.config.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(ldap_error("connect"))?;
        ldap3::drive!(conn);
        ldap.with_timeout(TIMEOUT)
            .simple_bind(&self.config.bind_dn, &self.password)
            .await
            .and_then(|r| r.success())
            .map_err(ldap_error("bind"))?;
        Ok(ldap)
    }

    /// Entries under `base_dn` matching `filter`, with `attrs`.
    pub(super) async fn search(
        &self,
        ldap: &mut Ldap,
        filter: &str,
        attrs: &[&str],
    ) -> BackendResult<Vec<SearchEntry>> {
        let (entries, _) = ldap
            .with_timeout(TIMEOUT)
            .search(&self.config.base_dn, Scope::Subtree, filter, attrs.to_vec())
            .await
            .and_then(|r| r.success())
            .map_err(ldap_error("search"))?;
        Ok(entries.into_iter().map(SearchEntry::construct).collect())
    }

    /// Adds an entry; `Ok(false)` when its DN exists already.
    pub(super) async fn add(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        attrs: Vec<(&str, HashSet<&str>)>,
    ) -> BackendResult<bool> {
        let result = ldap
            .with_timeout(TIMEOUT)
            .add(dn, attrs)
            .await
            .map_err(ldap_error("add"))?;
        match result.rc {
            0 => Ok(true),
            ALREADY_EXISTS => Ok(false),
            NO_SUCH_OBJECT => Err(BackendError::Ldap {
                operation: "add",
                detail: format!("the parent of {dn} does not exist: create it first"),
            }),
            _ => Err(ldap_error("add")(LdapError::from(result))),
        }
    }

    /// Makes an organizational unit if it is missing (the parent must exist).
    pub(super) async fn ensure_ou(&self, ldap: &mut Ldap, dn: &str) -> BackendResult<()> {
        let Some(ou) = dn.split(',').next().and_then(|rdn| rdn.strip_prefix("ou=")) else {
            return Ok(());
        };
        let attrs = vec![
            ("objectClass", HashSet::from(["organizationalUnit"])),
            ("ou", HashSet::from([ou])),
        ];
        self.add(ldap, dn, attrs).await.map(|_| ())
    }

    async fn name_taken(&self, ldap: &mut Ldap, name: &str) -> BackendResult<bool> {
        let name = ldap_escape(name);
        let filter = format!(
            "(|(&(objectClass=posixAccount)(uid={name}))(&(objectClass=posixGroup)(cn={name})))"
        );
        Ok(!self.search(ldap, &filter, &["1.1"]).await?.is_empty())
    }

    async fn find_in(&self, ldap: &mut Ldap, name: &str) -> BackendResult<Option<LocalAccount>> {
        let filter = format!("(&(objectClass=posixAccount)(uid={}))", ldap_escape(name));
        let attrs = [
            "uid",
            "uidNumber",
            "gidNumber",
            "homeDirectory",
            "loginShell",
            "gecos",
            "cn",
        ];
        let mut entries = self.search(ldap, &filter, &attrs).await?;
        if entries.len() > 1 {
            return Err(BackendError::Entry {
                dn: entries.remove(0).dn,
                detail: format!("{} posixAccounts have uid {name}", entries.len() + 1),
            });
        }
        entries
            .pop()
            .map(|entry| account_of(name, entry))
            .transpose()
    }

    async fn insert_in(&self, ldap: &mut Ldap, new: &NewAccount<'_>) -> BackendResult<bool> {
        if self.name_taken(ldap, new.name).await? {
            return Ok(false);
        }
        let gid = new.gid.to_string();
        let group_dn = format!("cn={},{}", dn_escape(new.name), self.groups_dn);
        if new.own_group {
            self.ensure_ou(ldap, &self.groups_dn).await?;
            let group = vec![
                ("objectClass", HashSet::from(["posixGroup"])),
                ("cn", HashSet::from([new.name])),
                ("gidNumber", HashSet::from([gid.as_str()])),
                ("description", HashSet::from(["made by provider-kit"])),
            ];
            if !self.add(ldap, &group_dn, group).await? {
                return Ok(false);
            }
        }
        self.ensure_ou(ldap, &self.people_dn).await?;
        let uid = new.uid.to_string();
        let cn = if new.gecos.is_empty() {
            new.name
        } else {
            new.gecos
        };
        let mut user = vec![
            ("objectClass", HashSet::from(["account", "posixAccount"])),
            ("uid", HashSet::from([new.name])),
            ("cn", HashSet::from([cn])),
            ("uidNumber", HashSet::from([uid.as_str()])),
            ("gidNumber", HashSet::from([gid.as_str()])),
            ("homeDirectory", HashSet::from([new.home])),
            ("loginShell", HashSet::from([new.shell])),
            ("description", HashSet::from(["made by provider-kit"])),
        ];
        if !new.gecos.is_empty() {
            user.push(("gecos", HashSet::from([new.gecos])));
        }
        let user_dn = format!("uid={},{}", dn_escape(new.name), self.people_dn);
        let added = self.add(ldap, &user_dn, user).await;
        if !matches!(added, Ok(true)) && new.own_group {
            // Leave nothing behind: the group was ours, made a moment ago.
            let _ = ldap.with_timeout(TIMEOUT).delete(&group_dn).await;
        }
        added
    }
}

impl LdapBackend {
    /// Deletes the `posixAccount` of `account` and the `posixGroup` named like it with its gid
    /// (its own primary group); `false` when the directory has no such account.
    async fn remove_in(&self, ldap: &mut Ldap, account: &LocalAccount) -> BackendResult<bool> {
        let name = ldap_escape(&account.name);
        let users = self
            .search(
                ldap,
                &format!("(&(objectClass=posixAccount)(uid={name}))"),
                &["1.1"],
            )
            .await?;
        let group_filter = format!(
            "(&(objectClass=posixGroup)(cn={name})(gidNumber={}))",
            account.gid
        );
        let groups = self.search(ldap, &group_filter, &["1.1"]).await?;
        for entry in users.iter().chain(&groups) {
            ldap.with_timeout(TIMEOUT)
                .delete(&entry.dn)
                .await
                .and_then(|r| r.success())
                .map_err(ldap_error("delete"))?;
        }
        Ok(!users.is_empty())
    }
}

impl LdapBackend {
    /// `modrdn` of the account's entry (`uid=<to>`) and of its own group (`cn=<to>`).
    async fn rename_in(
        &self,
        ldap: &mut Ldap,
        account: &LocalAccount,
        to: &str,
    ) -> BackendResult<bool> {
        if self.name_taken(ldap, to).await? {
            return Ok(false);
        }
        let name = ldap_escape(&account.name);
        let users = self
            .search(
                ldap,
                &format!("(&(objectClass=posixAccount)(uid={name}))"),
                &["1.1"],
            )
            .await?;
        let Some(user) = users.first() else {
            return Err(BackendError::Ldap {
                operation: "rename",
                detail: format!("the directory holds no posixAccount {}", account.name),
            });
        };
        let group_filter = format!(
            "(&(objectClass=posixGroup)(cn={name})(gidNumber={}))",
            account.gid
        );
        let groups = self.search(ldap, &group_filter, &["1.1"]).await?;
        let moves = [(user, format!("uid={}", dn_escape(to)))]
            .into_iter()
            .chain(groups.iter().map(|g| (g, format!("cn={}", dn_escape(to)))));
        for (entry, rdn) in moves {
            let result = ldap
                .with_timeout(TIMEOUT)
                .modifydn(&entry.dn, &rdn, true, None)
                .await
                .map_err(ldap_error("rename"))?;
            match result.rc {
                0 => {}
                ALREADY_EXISTS => return Ok(false),
                _ => return Err(ldap_error("rename")(LdapError::from(result))),
            }
        }
        Ok(true)
    }
}

/// A `posixAccount` entry as a `LocalAccount` (no creator: the mirror row says who it was made for).
fn account_of(name: &str, entry: SearchEntry) -> BackendResult<LocalAccount> {
    let first = |attr: &str| entry.attrs.get(attr).and_then(|v| v.first()).cloned();
    let bad = |detail: &str| BackendError::Entry {
        dn: entry.dn.clone(),
        detail: detail.to_owned(),
    };
    let id = |attr: &str| {
        first(attr)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|&id| id > 0)
            .ok_or_else(|| bad(&format!("{attr} is missing, 0 or not a number")))
    };
    Ok(LocalAccount {
        name: name.to_owned(),
        uid: id("uidNumber")?,
        gid: id("gidNumber")?,
        home: first("homeDirectory").ok_or_else(|| bad("homeDirectory is missing"))?,
        shell: first("loginShell").unwrap_or_else(|| "/bin/sh".into()),
        gecos: crate::usermap::names::gecos(
            &first("gecos").or_else(|| first("cn")).unwrap_or_default(),
        ),
        created_for: None,
        created_at: 0,
    })
}

impl AccountBackend for LdapBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Ldap
    }

    fn find<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        name: &'a str,
    ) -> BackendFuture<'a, Option<LocalAccount>> {
        Box::pin(async move {
            if let Some(known) = tx.account(name).await? {
                return Ok(Some(known));
            }
            let mut ldap = self.connect().await?;
            let found = self.find_in(&mut ldap, name).await;
            let _ = ldap.unbind().await;
            let Some(account) = found? else {
                return Ok(None);
            };
            let mirror = NewAccount::mirror_of(&account);
            tx.insert_account(mirror).await?;
            Ok(Some(account))
        })
    }

    fn allocate<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        kind: IdKind,
        range: IdRange,
        now: i64,
    ) -> BackendFuture<'a, u32> {
        Box::pin(async move {
            let held = tx.held_ids(kind, now).await?;
            let mut ldap = self.connect().await?;
            let id = self.reserve_id(&mut ldap, kind, range, held).await;
            let _ = ldap.unbind().await;
            id
        })
    }

    fn remove<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        account: &'a LocalAccount,
    ) -> BackendFuture<'a, bool> {
        Box::pin(async move {
            let mut ldap = self.connect().await?;
            let removed = self.remove_in(&mut ldap, account).await;
            let _ = ldap.unbind().await;
            let removed = removed?;
            tx.delete_account(&account.name).await?;
            Ok(removed)
        })
    }

    fn names(&self) -> BackendFuture<'_, HashSet<String>> {
        Box::pin(async move {
            let mut ldap = self.connect().await?;
            let filter = "(|(objectClass=posixAccount)(objectClass=posixGroup))";
            let entries = self.search(&mut ldap, filter, &["uid", "cn"]).await;
            let _ = ldap.unbind().await;
            let mut names = HashSet::new();
            for entry in entries? {
                let posix_name = if entry.attrs.contains_key("uid") {
                    "uid"
                } else {
                    "cn"
                };
                names.extend(entry.attrs.get(posix_name).into_iter().flatten().cloned());
            }
            Ok(names)
        })
    }

    fn rename<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        account: &'a LocalAccount,
        to: &'a str,
    ) -> BackendFuture<'a, bool> {
        Box::pin(async move {
            let mut ldap = self.connect().await?;
            let renamed = self.rename_in(&mut ldap, account, to).await;
            let _ = ldap.unbind().await;
            if !renamed? {
                return Ok(false);
            }
            Ok(tx.rename_account(&account.name, to).await?)
        })
    }

    fn insert<'a>(&'a self, tx: &'a mut AccountTx, new: NewAccount<'a>) -> BackendFuture<'a, bool> {
        Box::pin(async move {
            let mut ldap = self.connect().await?;
            let inserted = self.insert_in(&mut ldap, &new).await;
            let _ = ldap.unbind().await;
            if !inserted? {
                return Ok(false);
            }
            Ok(tx.insert_account(new).await?)
        })
    }
}
