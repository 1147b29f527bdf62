//! Which addresses the gateway may connect to for a provider (SPEC §1): for a production provider
//! public unicast addresses only, unless the operator allowed its hostname onto private ones; for a
//! test provider any address. The dialer asks this for every address before it connects.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The address rule of one kind of provider.
#[derive(Debug, Clone)]
pub enum AddressRule {
    /// Test providers: any address (who may register one is `providers.test_registration`).
    Any,
    /// Production providers: public addresses, except for the hostnames listed.
    PublicOnly { allow_private: HashSet<String> },
}

/// A connection the rule refuses.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "refusing to connect: {host} resolves to {ip}, a {kind} address (production providers must be on public addresses)"
)]
pub struct ForbiddenAddress {
    pub host: String,
    pub ip: IpAddr,
    pub kind: &'static str,
}

impl AddressRule {
    pub fn public_only(allow_private: impl IntoIterator<Item = String>) -> Self {
        Self::PublicOnly {
            allow_private: allow_private
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether the gateway may connect to `addr` on behalf of `host` (the name it was dialled by).
    pub fn check(&self, host: &str, addr: SocketAddr) -> Result<(), ForbiddenAddress> {
        let Self::PublicOnly { allow_private } = self else {
            return Ok(());
        };
        if allow_private.contains(&host.to_ascii_lowercase()) {
            return Ok(());
        }
        match non_public(addr.ip()) {
            None => Ok(()),
            Some(kind) => Err(ForbiddenAddress {
                host: host.to_owned(),
                ip: addr.ip(),
                kind,
            }),
        }
    }
}

/// `Some(kind)` when `ip` is not a public unicast address.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => non_public_v4(v4),
            None => non_public_v6(v6),
        },
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast or reserved")
    } else if (a, b, c) == (192, 0, 2)
        || (a, b, c) == (198, 51, 100)
        || (a, b, c) == (203, 0, 113)
        || (a == 198 && (b == 18 || b == 19))
    {
        Some("documentation or benchmarking")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast or reserved")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("documentation or benchmarking")
    } else {
        None
    }
}

/// Whether `url`'s host is `localhost`, 127.0.0.0/8 or ::1: where plain http is allowed for an
/// identity provider (SPEC §8), the operator's own machine.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "192.0.2.5",
        ] {
            assert!(non_public(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["130.225.0.1", "8.8.8.8", "2a00:1450::1", "172.32.0.1"] {
            assert!(non_public(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[test]
    fn production_refuses_loopback_unless_the_host_is_allowed_and_test_allows_anything() {
        let loopback: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let rule = AddressRule::public_only(["Intra.example.org".to_owned()]);
        let refused = rule.check("hpc.example.org", loopback).unwrap_err();
        assert_eq!((refused.ip, refused.kind), (loopback.ip(), "loopback"));
        assert!(rule.check("intra.example.org", loopback).is_ok());
        assert!(
            rule.check("hpc.example.org", "8.8.8.8:443".parse().unwrap())
                .is_ok()
        );
        assert!(AddressRule::Any.check("anything", loopback).is_ok());
    }
}
