//! The vocabulary of the broker's two header tables (`request_headers`, `response_headers`): how a
//! header name is matched, and when a rule applies. Names are compared as `http` stores them,
//! lowercase, so matching allocates nothing.

use http::{HeaderMap, HeaderName};

/// How a rule names headers.
#[derive(Debug, Clone, Copy)]
pub enum Name {
    Exact(&'static str),
    /// Every header whose name starts with this (lowercase) text.
    Prefix(&'static str),
}

impl Name {
    /// `name` as `HeaderName::as_str` gives it (read once per header by the caller: for a
    /// standard header that is a table lookup, which per rule cost more than the comparisons).
    pub fn matches(self, name: &str) -> bool {
        match self {
            Self::Exact(n) => name == n,
            Self::Prefix(p) => name.starts_with(p),
        }
    }
}

/// When a rule lets a header through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only on a WebSocket handshake: the upgrade request, or the provider's `101` answer.
    WebSocketHandshake,
}

/// The members of every `name` field's comma-separated list, trimmed (RFC 9110 §5.6.1), empty
/// ones included.
pub fn members(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

/// Whether a `name` field lists `token` (ASCII, compared without case).
pub fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    members(headers, name).any(|m| m.eq_ignore_ascii_case(token.as_bytes()))
}

/// True when `name` is passed by `table` on this message.
pub fn passes(table: &[(Name, When)], name: &HeaderName, handshake: bool) -> bool {
    let name = name.as_str();
    table
        .iter()
        .any(|(rule, when)| (*when == When::Always || handshake) && rule.matches(name))
}

/// Keeps only the headers `keep` accepts, with every value of a kept name in its order, without
/// copying any name or value. The names a message drops are few (a request's `Host` and
/// `Authorization`, a provider's `Date`): they are removed in place, which keeps the map's
/// allocation; a message with more than `IN_PLACE` dropped names is rebuilt. Removal may change the
/// order of different names, which carries no meaning (RFC 9110 §5.3).
pub fn retain(headers: &mut http::HeaderMap, mut keep: impl FnMut(&HeaderName) -> bool) {
    const IN_PLACE: usize = 8;
    let mut dropped: [Option<HeaderName>; IN_PLACE] = Default::default();
    let mut count = 0;
    for name in headers.keys() {
        if keep(name) {
            continue;
        }
        let Some(slot) = dropped.get_mut(count) else {
            return rebuild(headers, keep);
        };
        *slot = Some(name.clone());
        count += 1;
    }
    for name in dropped.iter().flatten() {
        headers.remove(name);
    }
}

/// `retain` for a message with many dropped names: a new map of the kept ones.
fn rebuild(headers: &mut http::HeaderMap, mut keep: impl FnMut(&HeaderName) -> bool) {
    let capacity = headers.len();
    let old = std::mem::replace(headers, http::HeaderMap::with_capacity(capacity));
    let mut current: Option<(HeaderName, bool)> = None;
    for (name, value) in old {
        if let Some(name) = name {
            let kept = keep(&name);
            current = Some((name, kept));
        }
        if let Some((name, true)) = &current {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::retain;
    use http::{HeaderMap, HeaderValue};

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn pairs(h: &HeaderMap) -> Vec<(String, String)> {
        h.iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn retain_keeps_accepted_headers_with_every_value_in_order() {
        let all = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")];
        let mut h = map(&all);
        retain(&mut h, |_| true);
        assert_eq!(
            pairs(&h),
            pairs(&map(&all)),
            "nothing dropped, nothing moved"
        );
        retain(&mut h, |n| n != "b");
        assert_eq!(
            pairs(&h),
            pairs(&map(&[("a", "1"), ("a", "3"), ("c", "4")]))
        );
        retain(&mut h, |n| n == "c");
        assert_eq!(pairs(&h), pairs(&map(&[("c", "4")])));
    }

    #[test]
    fn retain_with_many_dropped_names_rebuilds_the_same_result() {
        let names = ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"];
        let mut all: Vec<(&'static str, &'static str)> = names.iter().map(|n| (*n, "x")).collect();
        all.extend([("k", "1"), ("k", "2"), ("z", "3")]);
        let mut h = map(&all);
        retain(&mut h, |n| !n.as_str().starts_with('d'));
        let mut kept = pairs(&h);
        kept.sort();
        assert_eq!(kept, pairs(&map(&[("k", "1"), ("k", "2"), ("z", "3")])));
        assert_eq!(
            h.get_all("k").iter().collect::<Vec<_>>(),
            ["1", "2"],
            "values keep their order"
        );
    }
}
