//! Who is calling, by network address (SPEC §7): the peer address, or — when the peer is one of
//! the operator's `trusted_proxies` — the first hop of `X-Forwarded-For`, read from the right, that
//! is not a trusted proxy. Only the sign-in throttle and logs use it; it never grants anything.

use crate::app::AppState;
use crate::netaddr::{IpNet, canonical};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address as far as the gateway can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(Self(client_address(
            peer,
            &parts.headers,
            &app.config.trusted_proxies,
        )))
    }
}

pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // A hop we cannot read: everything left of it is the client's own say-so.
            return client;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let h = headers(&["203.0.113.9, 198.51.100.7, 10.0.0.2"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &trusted),
            ip("198.51.100.7"),
            "the first untrusted hop from the right, not the leftmost the client wrote"
        );
        assert_eq!(
            client_address(ip("192.0.2.1"), &h, &trusted),
            ip("192.0.2.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers(&["garbage, 10.0.0.3"]), &trusted),
            ip("10.0.0.3"),
            "an unreadable hop stops the walk"
        );
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                &headers(&["198.51.100.1", "10.0.0.9"]),
                &trusted
            ),
            ip("198.51.100.1"),
            "several header lines are one list"
        );
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &headers(&[]), &[]),
            ip("127.0.0.1")
        );
    }
}
