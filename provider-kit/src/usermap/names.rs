//! Username policies for automatic local accounts (SPEC §4 implicit flow): from a gateway principal
//! to the sequence of POSIX names to try, first to last. Pure functions; whether a name is free is
//! the store's UNIQUE constraint's to say, and the account code walks the sequence until one is.

use serde::{Deserialize, Serialize};

use crate::protocol::Principal;

/// Longest account name: what `useradd` and most NSS backends accept.
pub const MAX_NAME_LEN: usize = 32;

/// How an automatic account's name is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UsernamePolicy {
    /// `prefix` and a zero-padded counter: `ucloud_00001`.
    Anonymized,
    /// `first_last_NN`, transliterated to ASCII: `ase_odegard_01`.
    FullName,
    /// The gateway username made POSIX-safe: `dansebastianthrane_1234`.
    GatewayUsername,
    /// The e-mail's local part without `+tag`: `dan_thrane`.
    EmailLocalPart,
    /// No automatic name: the connection waits in `pendingAccountLinking` for an operator.
    ServiceProvider,
    /// The principal's `siteUsername` (SPEC §8) exactly, when it is a valid name that is free;
    /// otherwise (no claim, an invalid or taken one) the names of `identity_claim_fallback`.
    IdentityClaim,
}

impl UsernamePolicy {
    /// Whether the policy names accounts by itself, so that it may be `identityClaim`'s fallback.
    pub fn names_by_itself(self) -> bool {
        !matches!(self, Self::ServiceProvider | Self::IdentityClaim)
    }
}

/// `^[a-z_][a-z0-9_-]*$` and at most 32 characters.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Names the system or common services already use; an automatic account never gets one.
const SYSTEM_NAMES: &[&str] = &[
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "nogroup",
    "sshd",
    "messagebus",
    "adm",
    "admin",
    "administrator",
    "operator",
    "halt",
    "shutdown",
    "wheel",
    "sudo",
    "staff",
    "users",
    "ftp",
    "http",
    "nginx",
    "apache",
    "postgres",
    "mysql",
    "docker",
    "slurm",
    "munge",
    "ucloud",
    "_apt",
    "polkitd",
    "dnsmasq",
    "tss",
    "uuidd",
];

/// True for a name of the system (`root`, `systemd-…`) or one the operator listed.
pub fn is_reserved(name: &str, extra: &[String]) -> bool {
    SYSTEM_NAMES.contains(&name) || name.starts_with("systemd-") || extra.iter().any(|r| r == name)
}

/// The names one account may get, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameSequence {
    /// `stem` (when `plain_first`), then `stem_01`, `stem_02`, …
    Suffixed { stem: String, plain_first: bool },
    /// `prefix` and the store's next counter value, zero-padded to five digits.
    Counter { prefix: String },
    /// `name` (a site username), then the names of `then`.
    Claimed {
        name: String,
        then: Box<NameSequence>,
    },
}

impl NameSequence {
    /// The sequence `policy` gives `principal`; `None` for `serviceProvider`, which names no one.
    pub fn for_policy(policy: UsernamePolicy, principal: &Principal, prefix: &str) -> Option<Self> {
        Self::with_fallback(policy, UsernamePolicy::FullName, principal, prefix)
    }

    /// `for_policy`, with `fallback` (a policy that `names_by_itself`, else `fullName`) behind
    /// `identityClaim`.
    pub fn with_fallback(
        policy: UsernamePolicy,
        fallback: UsernamePolicy,
        principal: &Principal,
        prefix: &str,
    ) -> Option<Self> {
        if policy == UsernamePolicy::IdentityClaim {
            let fallback = if fallback.names_by_itself() {
                fallback
            } else {
                UsernamePolicy::FullName
            };
            let then = Self::with_fallback(fallback, fallback, principal, prefix)?;
            let claimed = principal
                .site_username
                .as_deref()
                .filter(|name| is_valid_name(name));
            return Some(match claimed {
                Some(name) => Self::Claimed {
                    name: name.to_owned(),
                    then: Box::new(then),
                },
                None => then,
            });
        }
        let suffixed = |stem: String, plain_first: bool| Self::Suffixed { stem, plain_first };
        match policy {
            UsernamePolicy::ServiceProvider | UsernamePolicy::IdentityClaim => None,
            UsernamePolicy::Anonymized => Some(Self::Counter {
                prefix: prefix.to_owned(),
            }),
            UsernamePolicy::FullName => Some(match full_name_stem(principal) {
                Some(stem) => suffixed(stem, false),
                None => suffixed(fallback_stem(principal), false),
            }),
            UsernamePolicy::GatewayUsername => Some(suffixed(fallback_stem(principal), true)),
            UsernamePolicy::EmailLocalPart => Some(match email_stem(&principal.email) {
                Some(stem) => suffixed(stem, true),
                None => suffixed(fallback_stem(principal), true),
            }),
        }
    }

    /// The `n`th name of a `Suffixed` sequence (0 is the plain stem); always a valid name.
    pub fn suffixed(stem: &str, n: u32) -> String {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("_{n:02}")
        };
        join_within(stem, &suffix)
    }

    /// The name for counter value `n` of a `Counter` sequence; always a valid name.
    pub fn counted(prefix: &str, n: i64) -> String {
        let number = format!("{n:05}");
        let room = MAX_NAME_LEN.saturating_sub(number.len()).min(prefix.len());
        format!("{}{number}", prefix.get(..room).unwrap_or(prefix))
    }
}

/// `stem` cut so that `stem + suffix` fits in 32 characters, without a dangling separator.
fn join_within(stem: &str, suffix: &str) -> String {
    let room = MAX_NAME_LEN.saturating_sub(suffix.len());
    // Stems are ASCII, so byte positions are character positions.
    let cut = stem.get(..room.min(stem.len())).unwrap_or(stem);
    let mut name = cut.trim_end_matches(['_', '-']).to_owned();
    name.push_str(suffix);
    name
}

/// One word in ASCII letters and digits: `Ødegård` → `odegard`, `小明` → `xiaoming`.
fn word(text: &str) -> String {
    deunicode::deunicode(text)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// ASCII, lowercase, runs of anything else as one `_`, no separator at either end, and a leading
/// letter (`u`) when it would start with a digit.
pub fn slug(text: &str) -> String {
    let ascii = deunicode::deunicode(text).to_ascii_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("u{trimmed}")
    } else {
        trimmed.to_owned()
    }
}

/// `first_last` from the first word of the first name and the last word of the last name.
fn full_name_stem(principal: &Principal) -> Option<String> {
    let words = |text: &str| -> Vec<String> {
        text.split_whitespace()
            .map(word)
            .filter(|w| !w.is_empty())
            .collect()
    };
    let first = words(&principal.first_name).into_iter().next();
    let last = words(&principal.last_name).pop();
    let stem = match (first, last) {
        (Some(first), Some(last)) => format!("{first}_{last}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return None,
    };
    Some(lead_with_letter(stem))
}

/// The local part of an e-mail address without its `+tag`.
fn email_stem(email: &str) -> Option<String> {
    let (local, _domain) = email.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    Some(slug(local)).filter(|s| !s.is_empty())
}

/// The gateway username, or `user` when nothing of it survives.
fn fallback_stem(principal: &Principal) -> String {
    Some(slug(&principal.username))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "user".to_owned())
}

fn lead_with_letter(stem: String) -> String {
    if stem.starts_with(|c: char| c.is_ascii_digit()) {
        format!("u{stem}")
    } else {
        stem
    }
}

/// The passwd comment field: a full name in printable ASCII without `:`, `,` or `\\`, at most 64
/// characters.
pub fn gecos(full_name: &str) -> String {
    let ascii = deunicode::deunicode(full_name);
    let cleaned: String = ascii
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != ':' && c != ',' && c != '\\') || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut joined = words.join(" ");
    joined.truncate(64);
    joined
}
