//! The access-policy keys of `users:` (SPEC §9) that serde's types cannot bound: lengths, counts,
//! and that a terms `url` is an http(s) URL. Each problem names its path, like every other error.

use super::ManifestError;
use super::walk::clip;
use crate::protocol::UserSettings;
use crate::protocol::manifest::{
    MAX_ASSURANCE_URI_CHARS, MAX_ASSURANCE_URIS, MAX_TERMS_TITLE_CHARS, MAX_TERMS_VERSION_CHARS,
    MAX_URL_CHARS,
};

pub(super) fn check(users: &UserSettings, errors: &mut Vec<ManifestError>) {
    let mut refuse = |path: String, problem: String| errors.push(ManifestError { path, problem });
    if users.require_assurance.len() > MAX_ASSURANCE_URIS {
        refuse(
            "users.requireAssurance".into(),
            format!(
                "{} URIs; at most {MAX_ASSURANCE_URIS} are accepted",
                users.require_assurance.len()
            ),
        );
    }
    for (i, uri) in users
        .require_assurance
        .iter()
        .enumerate()
        .take(MAX_ASSURANCE_URIS)
    {
        if let Err(problem) = bounded_text(uri, MAX_ASSURANCE_URI_CHARS)
            .and_then(|()| has_scheme(uri).then_some(()).ok_or("is not a URI".into()))
        {
            refuse(format!("users.requireAssurance[{i}]"), problem);
        }
    }
    if let Some(terms) = &users.terms {
        if let Err(p) = bounded_text(&terms.version, MAX_TERMS_VERSION_CHARS) {
            refuse("users.terms.version".into(), p);
        }
        if let Err(p) = bounded_text(&terms.title, MAX_TERMS_TITLE_CHARS) {
            refuse("users.terms.title".into(), p);
        }
        if let Err(p) = bounded_text(&terms.url, MAX_URL_CHARS).and_then(|()| http_url(&terms.url))
        {
            refuse("users.terms.url".into(), p);
        }
    }
}

/// 1..=`max` characters, none of them control characters, not only spaces.
fn bounded_text(value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if value.trim().is_empty() {
        Err("must not be empty".into())
    } else if n > max {
        Err(format!("has {n} characters; at most {max} are accepted"))
    } else if value.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(())
    }
}

/// `scheme:rest` with an RFC 3986 scheme.
fn has_scheme(uri: &str) -> bool {
    uri.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// `http://host…` or `https://host…`, without whitespace: a link a browser can open.
fn http_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{:?} is not an http(s) URL", clip(url, 80)))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || url.chars().any(char::is_whitespace) {
        return Err(format!(
            "{:?} is not an http(s) URL with a host",
            clip(url, 80)
        ));
    }
    Ok(())
}
