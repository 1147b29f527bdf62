//! The vocabulary of the broker's two header tables (`request_headers`, `response_headers`): how a
//! header name is matched, and when a rule applies. Names are compared as `http` stores them,
//! lowercase, so matching allocates nothing.

use http::HeaderName;

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

/// True when `name` is passed by `table` on this message.
pub fn passes(table: &[(Name, When)], name: &HeaderName, handshake: bool) -> bool {
    let name = name.as_str();
    table
        .iter()
        .any(|(rule, when)| (*when == When::Always || handshake) && rule.matches(name))
}

/// Keeps only the headers `keep` accepts, in their order, without copying any name or value.
pub fn retain(headers: &mut http::HeaderMap, mut keep: impl FnMut(&HeaderName) -> bool) {
    // Most messages keep every header (a provider's usual answer): then nothing is rebuilt.
    // `keys` gives each name once, whatever its number of values.
    if headers.keys().all(&mut keep) {
        return;
    }
    let capacity = headers.len() + 8;
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
}
