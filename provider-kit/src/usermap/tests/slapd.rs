//! A real OpenLDAP server for the LDAP backend's tests: Debian's `slapd` started on a free port of
//! 127.0.0.1 from a generated `slapd.conf` (the `mdb` backend, the core/cosine/nis schemas of
//! `/etc/ldap/schema`) in a temporary folder, seeded through `ldap3`, killed and removed on drop.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, Scope, SearchEntry};

use super::support::TempFile;
use crate::usermap::LdapConfig;

pub const BASE: &str = "dc=example,dc=org";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
const ROOT_PW: &str = "not-a-real-secret";

pub struct Slapd {
    child: Child,
    dir: PathBuf,
    pub url: String,
    password_file: TempFile,
}

fn slapd_binary() -> String {
    std::env::var("SLAPD").unwrap_or_else(|_| {
        ["/usr/sbin/slapd", "/usr/local/sbin/slapd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("slapd")
            .to_owned()
    })
}

impl Slapd {
    /// Starts slapd with an empty `dc=example,dc=org` and the `ou=people` and `ou=groups` most
    /// directories have.
    pub async fn start() -> Self {
        let dir = TempFile::new("slapd").0.clone();
        std::fs::create_dir_all(dir.join("db")).expect("slapd dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             pidfile {dir}/slapd.pid\n\
             database mdb\nmaxsize 104857600\nsuffix \"{BASE}\"\n\
             rootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\ndirectory {dir}/db\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("slapd.conf"), conf).expect("slapd.conf");
        let url = format!("ldap://127.0.0.1:{port}");
        let child = Command::new(slapd_binary())
            .arg("-f")
            .arg(dir.join("slapd.conf"))
            .args(["-h", &format!("{url}/"), "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slapd starts (apt-get install slapd ldap-utils)");
        let password_file = TempFile::new("pw");
        std::fs::write(&password_file.0, format!("{ROOT_PW}\n")).expect("password file");
        let slapd = Self {
            child,
            dir,
            url,
            password_file,
        };
        slapd.wait_until_bound().await;
        let mut ldap = slapd.admin().await;
        slapd
            .add(
                &mut ldap,
                BASE,
                &[
                    ("objectClass", &["dcObject", "organization"]),
                    ("dc", &["example"]),
                    ("o", &["Example"]),
                ],
            )
            .await;
        for ou in ["people", "groups", "admins"] {
            let dn = format!("ou={ou},{BASE}");
            slapd
                .add(
                    &mut ldap,
                    &dn,
                    &[("objectClass", &["organizationalUnit"]), ("ou", &[ou])],
                )
                .await;
        }
        slapd
    }

    async fn wait_until_bound(&self) {
        for _ in 0..500 {
            if let Ok((conn, mut ldap)) = LdapConnAsync::new(&self.url).await {
                ldap3::drive!(conn);
                if ldap
                    .simple_bind(ROOT_DN, ROOT_PW)
                    .await
                    .is_ok_and(|r| r.rc == 0)
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("slapd did not start on {}", self.url);
    }

    /// The backend's configuration for this server, bound as its root DN.
    pub fn config(&self) -> LdapConfig {
        LdapConfig {
            url: self.url.clone(),
            starttls: false,
            base_dn: BASE.into(),
            people_dn: None,
            groups_dn: None,
            ids_dn: None,
            bind_dn: ROOT_DN.into(),
            bind_password_file: self.password_file.0.clone(),
        }
    }

    pub async fn admin(&self) -> Ldap {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url).await.expect("connect");
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PW)
            .await
            .and_then(|r| r.success())
            .expect("bind");
        ldap
    }

    pub async fn add(&self, ldap: &mut Ldap, dn: &str, attrs: &[(&str, &[&str])]) {
        let attrs = attrs
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect::<HashSet<_>>()))
            .collect();
        ldap.add(dn, attrs)
            .await
            .and_then(|r| r.success())
            .unwrap_or_else(|e| panic!("add {dn}: {e}"));
    }

    /// A `posixAccount` that provider-kit did not make.
    pub async fn seed_account(&self, ou: &str, name: &str, uid: u32, gid: u32) {
        let mut ldap = self.admin().await;
        let dn = format!("uid={name},ou={ou},{BASE}");
        let (uid, gid, home) = (uid.to_string(), gid.to_string(), format!("/home/{name}"));
        self.add(
            &mut ldap,
            &dn,
            &[
                ("objectClass", &["account", "posixAccount"]),
                ("uid", &[name]),
                ("cn", &[name]),
                ("uidNumber", &[&uid]),
                ("gidNumber", &[&gid]),
                ("homeDirectory", &[&home]),
            ],
        )
        .await;
    }

    /// A `posixGroup` that provider-kit did not make.
    pub async fn seed_group(&self, name: &str, gid: u32) {
        let mut ldap = self.admin().await;
        let dn = format!("cn={name},ou=groups,{BASE}");
        let gid = gid.to_string();
        self.add(
            &mut ldap,
            &dn,
            &[
                ("objectClass", &["posixGroup"]),
                ("cn", &[name]),
                ("gidNumber", &[&gid]),
            ],
        )
        .await;
    }

    /// Every entry matching `filter` under the base.
    pub async fn search(&self, filter: &str) -> Vec<SearchEntry> {
        let mut ldap = self.admin().await;
        let (entries, _) = ldap
            .search(BASE, Scope::Subtree, filter, vec!["*"])
            .await
            .and_then(|r| r.success())
            .expect("search");
        entries.into_iter().map(SearchEntry::construct).collect()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
