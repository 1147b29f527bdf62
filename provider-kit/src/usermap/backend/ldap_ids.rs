//! Ids in the LDAP backend. A uid (gid) is free when no entry under `base_dn` carries it as
//! `uidNumber` (`gidNumber`) and provider-kit never reserved it. Reserving is adding the entry
//! `cn=uid-<n>,{ids_dn}`: a DN exists once, so of two writers racing for the same id (two threads,
//! two provider processes) exactly one gets it, and the reservation stays, so an id is never handed
//! out twice even after its account is deleted.

use std::collections::{BTreeSet, HashSet};

use ldap3::Ldap;

use super::BackendResult;
use super::ldap::LdapBackend;
use crate::usermap::config::IdRange;
use crate::usermap::store::{IdKind, NEVER_HANDED_OUT, StoreError};

impl LdapBackend {
    pub(super) async fn reserve_id(
        &self,
        ldap: &mut Ldap,
        kind: IdKind,
        range: IdRange,
        held: BTreeSet<u32>,
    ) -> BackendResult<u32> {
        let attr = match kind {
            IdKind::Uid => "uidNumber",
            IdKind::Gid => "gidNumber",
        };
        self.ensure_ou(ldap, &self.ids_dn).await?;
        let mut taken = self.ids_in_use(ldap, kind, attr).await?;
        taken.extend(held);
        for candidate in range.min.max(1)..=range.max {
            if taken.contains(&candidate) || NEVER_HANDED_OUT.contains(&i64::from(candidate)) {
                continue;
            }
            let cn = format!("{kind}-{candidate}");
            let dn = format!("cn={cn},{}", self.ids_dn);
            let claim = vec![
                ("objectClass", HashSet::from(["organizationalRole"])),
                ("cn", HashSet::from([cn.as_str()])),
                ("description", HashSet::from(["reserved by provider-kit"])),
            ];
            if !self.add(ldap, &dn, claim).await? {
                continue;
            }
            // Someone outside provider-kit may have used it since the search: then it stays
            // reserved (harmlessly) and we move on.
            let filter = format!("({attr}={candidate})");
            if self.search(ldap, &filter, &["1.1"]).await?.is_empty() {
                return Ok(candidate);
            }
            taken.insert(candidate);
        }
        Err(StoreError::RangeExhausted {
            kind,
            min: range.min,
            max: range.max,
        }
        .into())
    }

    /// Every id of `kind` an entry carries or a reservation holds.
    async fn ids_in_use(
        &self,
        ldap: &mut Ldap,
        kind: IdKind,
        attr: &str,
    ) -> BackendResult<BTreeSet<u32>> {
        let filter = format!("(|({attr}=*)(&(objectClass=organizationalRole)(cn={kind}-*)))");
        let entries = self.search(ldap, &filter, &[attr, "cn"]).await?;
        let reserved = format!("{kind}-");
        let mut taken = BTreeSet::new();
        for entry in entries {
            let numbers = entry
                .attrs
                .get(attr)
                .into_iter()
                .flatten()
                .map(String::as_str);
            let claims = entry
                .attrs
                .get("cn")
                .into_iter()
                .flatten()
                .filter_map(|cn| cn.strip_prefix(&reserved));
            taken.extend(numbers.chain(claims).filter_map(|v| v.parse::<u32>().ok()));
        }
        Ok(taken)
    }
}
