//! The broker's first phase (SPEC §3 step 2 ▲): the raw request path as received — never a decoded
//! copy — is split into segments, and each segment is percent-decoded exactly once and checked. The
//! feature table (`features::route`) then classifies the decoded segments, while the path sent
//! upstream is the raw text this gate checked, byte for byte. So what the gate judged and what the
//! provider's router decodes are the same thing.

use super::features::SEGMENT_NAMES;
use std::borrow::Cow;

/// Why a path was refused; the message names the offending segment's position, never echoes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPath {
    #[error("the path is not /ucloud/{{id}}/{{path}}")]
    NotBrokered,
    #[error("path segment {0} is empty or a dot segment")]
    EmptyOrDot(usize),
    #[error("path segment {0} has a malformed percent-encoding or is not UTF-8")]
    BadEncoding(usize),
    #[error(
        "path segment {0} contains a character the broker refuses (/ \\ ? # ; %, control or whitespace)"
    )]
    ForbiddenCharacter(usize),
    #[error("path segment {0} spells a feature name in another letter case")]
    CaseVariant(usize),
}

/// A path that passed the gate.
#[derive(Debug, PartialEq, Eq)]
pub struct GatedPath<'a> {
    /// The provider id, decoded.
    pub provider: Cow<'a, str>,
    /// After `/ucloud/{id}/`, exactly as received: what is forwarded.
    pub raw: &'a str,
    /// `raw` with each segment decoded once: what the feature table reads. No decoded segment
    /// contains `/`, so its segments are `raw`'s segments.
    pub decoded: Cow<'a, str>,
}

/// Checks `path`, the request URI's path (`/ucloud/{id}/{rest}`, no query).
pub fn gate(path: &str) -> Result<GatedPath<'_>, InvalidPath> {
    let rest = path
        .strip_prefix("/ucloud/")
        .ok_or(InvalidPath::NotBrokered)?;
    let slash = rest
        .bytes()
        .position(|b| b == b'/')
        .ok_or(InvalidPath::NotBrokered)?;
    let (id, raw) = (&rest[..slash], &rest[slash + 1..]);
    let provider = segment(id, 0)?;
    // Without any `%` there is nothing to decode, and the common case allocates nothing.
    let decoded = if has_percent(raw) {
        let mut out = String::with_capacity(raw.len());
        for (i, s) in raw.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.push_str(&segment(s, i + 1)?);
        }
        Cow::Owned(out)
    } else {
        for (i, s) in raw.split('/').enumerate() {
            segment(s, i + 1)?;
        }
        Cow::Borrowed(raw)
    };
    Ok(GatedPath {
        provider,
        raw,
        decoded,
    })
}

/// One segment, decoded once and checked; `at` counts from the provider id (0).
fn segment(raw: &str, at: usize) -> Result<Cow<'_, str>, InvalidPath> {
    let decoded = decode_once(raw).ok_or(InvalidPath::BadEncoding(at))?;
    if decoded.is_empty() || decoded == "." || decoded == ".." {
        return Err(InvalidPath::EmptyOrDot(at));
    }
    // Paths are ASCII almost always: bytes, not chars and Unicode's tables.
    let refused = if decoded.is_ascii() {
        decoded.bytes().any(forbidden_ascii)
    } else {
        decoded.chars().any(forbidden)
    };
    if refused {
        return Err(InvalidPath::ForbiddenCharacter(at));
    }
    if SEGMENT_NAMES
        .iter()
        .any(|name| decoded.eq_ignore_ascii_case(name) && decoded != *name)
    {
        return Err(InvalidPath::CaseVariant(at));
    }
    Ok(decoded)
}

/// `%` left after one decoding means the caller encoded twice (`%2577`): refused, never decoded
/// again, because some router along the way would.
fn forbidden(c: char) -> bool {
    matches!(c, '/' | '\\' | '?' | '#' | ';' | '%') || c.is_control() || c.is_whitespace()
}

/// `forbidden` for an ASCII byte: ASCII's control characters are 0x00–0x1f and 0x7f, and its
/// whitespace is those controls' `\t \n \x0b \x0c \r` and the space.
fn forbidden_ascii(b: u8) -> bool {
    b <= b' ' || b == 0x7f || matches!(b, b'/' | b'\\' | b'?' | b'#' | b';' | b'%')
}

/// Whether `s` has a `%`: a byte loop, cheaper than `str::contains`'s searcher on short segments.
fn has_percent(s: &str) -> bool {
    s.bytes().any(|b| b == b'%')
}

/// Percent-decodes once; `None` on a malformed escape or bytes that are not UTF-8.
fn decode_once(s: &str) -> Option<Cow<'_, str>> {
    if !has_percent(s) {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_check_refuses_exactly_what_the_char_check_refuses() {
        for b in 0..=0x7f_u8 {
            assert_eq!(forbidden_ascii(b), forbidden(char::from(b)), "{b:#04x}");
        }
    }

    #[test]
    fn plain_paths_pass_unchanged_and_encoded_ones_are_read_decoded_but_forwarded_raw() {
        let g = gate("/ucloud/dev/storage/files/a.txt").unwrap();
        assert_eq!(
            (g.provider.as_ref(), g.raw, g.decoded.as_ref()),
            ("dev", "storage/files/a.txt", "storage/files/a.txt")
        );
        assert!(matches!(g.decoded, Cow::Borrowed(_)));
        let g = gate("/ucloud/dev/compute/docker/b%61tch").unwrap();
        assert_eq!(
            (g.raw, g.decoded.as_ref()),
            ("compute/docker/b%61tch", "compute/docker/batch")
        );
        let g = gate("/ucloud/dev/storage/caf%C3%A9").unwrap();
        assert_eq!(g.decoded, "storage/café");
    }

    #[test]
    fn the_refusal_table_follows_the_contract() {
        use InvalidPath::*;
        let cases = [
            ("/api/tokens", NotBrokered),
            ("/ucloud/dev", NotBrokered),
            ("/ucloud/dev/", EmptyOrDot(1)),
            ("/ucloud/dev/storage//x", EmptyOrDot(2)),
            ("/ucloud/dev/storage/", EmptyOrDot(2)),
            ("/ucloud/dev/storage/./x", EmptyOrDot(2)),
            ("/ucloud/dev/storage/../usermap", EmptyOrDot(2)),
            ("/ucloud/dev/storage/%2e%2E/usermap", EmptyOrDot(2)),
            ("/ucloud/dev/storage/%2e", EmptyOrDot(2)),
            ("/ucloud/%2e%2e/storage", EmptyOrDot(0)),
            ("/ucloud/dev/compute/docker/batch%3F", ForbiddenCharacter(3)),
            ("/ucloud/dev/compute/docker/batch%23", ForbiddenCharacter(3)),
            ("/ucloud/dev/storage/..;/usermap", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/x;jsessionid=1", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/%5C..%5Cusermap", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/a%2Fb", ForbiddenCharacter(2)),
            (
                "/ucloud/dev/compute/docker/b%2577tch",
                ForbiddenCharacter(3),
            ),
            ("/ucloud/dev/storage/%00", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/a%20b", ForbiddenCharacter(2)),
            (
                "/ucloud/dev/storage/a%0d%0aX-Injected:%201",
                ForbiddenCharacter(2),
            ),
            ("/ucloud/dev/storage/a%09b", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/a%7Fb", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/a%C2%A0b", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/a%C2%85b", ForbiddenCharacter(2)),
            ("/ucloud/dev/storage/%zz", BadEncoding(2)),
            ("/ucloud/dev/storage/abc%", BadEncoding(2)),
            ("/ucloud/dev/storage/abc%4", BadEncoding(2)),
            ("/ucloud/dev/storage/%FF", BadEncoding(2)),
            ("/ucloud/dev/compute/docker/Batch", CaseVariant(3)),
            ("/ucloud/dev/compute/docker/BATCH", CaseVariant(3)),
            ("/ucloud/dev/USERMAP", CaseVariant(1)),
            ("/ucloud/dev/Storage/files", CaseVariant(1)),
            ("/ucloud/dev/compute/virtualmachine/x", CaseVariant(2)),
            ("/ucloud/dev/compute/docker/%42atch", CaseVariant(3)),
            ("/ucloud/dev/Manifest", CaseVariant(1)),
        ];
        for (path, expected) in cases {
            assert_eq!(gate(path), Err(expected), "{path}");
        }
    }

    #[test]
    fn feature_names_in_their_own_spelling_pass_anywhere() {
        for path in [
            "/ucloud/dev/usermap",
            "/ucloud/dev/compute/docker/batch/1",
            "/ucloud/dev/compute/virtualMachine/logs/x",
            "/ucloud/dev/storage/files/batches",
            "/ucloud/dev/storage/a-b_c.d~e",
            "/ucloud/dev/storage/%C3%A9t%C3%A9",
        ] {
            assert!(gate(path).is_ok(), "{path}");
        }
    }
}
