//! Provider metadata (SPEC §1): immutable after registration, validated once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Why a piece of metadata was refused. The message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "id: {0:?} must match ^[a-z][a-z0-9-]{{1,62}}$ (lowercase letter first, then 1-62 of a-z, 0-9, '-')"
    )]
    BadId(String),
    #[error("domain: {0:?} is not a valid hostname ({1})")]
    BadDomain(String, &'static str),
    #[error("domain: {0:?} is an IP address, which only test providers may use")]
    IpDomainInProduction(String),
    #[error(
        "domain: {0:?} is not a DNS name: its last label is a number, so resolvers read it as an IPv4 address (a production domain's last label must contain a letter and not be hexadecimal like 0x7f)"
    )]
    NumericDomain(String),
    #[error("https: a production provider must use https (set https: true or env: test)")]
    ProductionWithoutHttps,
    #[error("port: 0 is not a valid port")]
    ZeroPort,
}

/// `^[a-z][a-z0-9-]{1,62}$`: becomes the namespace `/ucloud/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderId(String);

impl ProviderId {
    pub fn parse(raw: &str) -> Result<Self, MetadataError> {
        let bytes = raw.as_bytes();
        let ok = (2..=63).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[1..]
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(MetadataError::BadId(truncate(raw)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderId {
    type Error = MetadataError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProviderId> for String {
    fn from(value: ProviderId) -> Self {
        value.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProviderEnv {
    Production,
    Test,
}

impl ProviderEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Test => "test",
        }
    }
}

impl std::str::FromStr for ProviderEnv {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "production" => Ok(Self::Production),
            "test" => Ok(Self::Test),
            other => Err(format!("env: {other:?} must be production or test")),
        }
    }
}

/// Validated provider metadata. Deserializing checks every rule of SPEC §1, so a value of this type
/// is always a metadata the gateway may register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawMetadata", into = "RawMetadata")]
pub struct ProviderMetadata {
    pub id: ProviderId,
    pub domain: String,
    pub https: bool,
    port: Option<u16>,
    pub env: ProviderEnv,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    id: String,
    domain: String,
    https: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    env: ProviderEnv,
}

impl ProviderMetadata {
    pub fn new(
        id: &str,
        domain: &str,
        https: bool,
        port: Option<u16>,
        env: ProviderEnv,
    ) -> Result<Self, MetadataError> {
        let id = ProviderId::parse(id)?;
        check_domain(domain, env)?;
        if env == ProviderEnv::Production && !https {
            return Err(MetadataError::ProductionWithoutHttps);
        }
        if port == Some(0) {
            return Err(MetadataError::ZeroPort);
        }
        Ok(Self {
            id,
            domain: domain.to_ascii_lowercase(),
            https,
            port,
            env,
        })
    }

    /// The port the provider listens on: the explicit one, or 443 / 80 by scheme.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.https { 443 } else { 80 })
    }

    /// `{scheme}://{domain}[:{port}]`, with the port only when it is not the scheme's default.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.domain.contains(':') {
            format!("[{}]", self.domain)
        } else {
            self.domain.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port() == default {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{}", self.port())
        }
    }

    /// The provider's namespace root: `{base}/ucloud/{id}`.
    pub fn namespace_url(&self) -> String {
        format!("{}/ucloud/{}", self.base_url(), self.id)
    }
}

impl TryFrom<RawMetadata> for ProviderMetadata {
    type Error = MetadataError;
    fn try_from(raw: RawMetadata) -> Result<Self, Self::Error> {
        Self::new(&raw.id, &raw.domain, raw.https, raw.port, raw.env)
    }
}

impl From<ProviderMetadata> for RawMetadata {
    fn from(m: ProviderMetadata) -> Self {
        Self {
            port: Some(m.port()),
            id: m.id.0,
            domain: m.domain,
            https: m.https,
            env: m.env,
        }
    }
}

fn check_domain(domain: &str, env: ProviderEnv) -> Result<(), MetadataError> {
    let bad = |why| Err(MetadataError::BadDomain(truncate(domain), why));
    if domain.parse::<IpAddr>().is_ok() {
        return match env {
            ProviderEnv::Test => Ok(()),
            ProviderEnv::Production => Err(MetadataError::IpDomainInProduction(truncate(domain))),
        };
    }
    if domain.is_empty() {
        return bad("it is empty");
    }
    if domain.len() > 253 {
        return bad("longer than 253 characters");
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad("each dot-separated label must have 1-63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("only letters, digits, '-' and '.' are allowed; no scheme, port or path");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label cannot start or end with '-'");
        }
    }
    if env == ProviderEnv::Production && ends_in_a_number(domain) {
        return Err(MetadataError::NumericDomain(truncate(domain)));
    }
    Ok(())
}

/// The WHATWG URL rule for "ends in a number": a last label of decimal digits, or `0x` and hex
/// digits. Such a name is an IPv4 address to URL parsers and `inet_aton` (`127.1`, `2130706433`,
/// `0x7f.1`, `017700000001`), never a DNS name.
fn ends_in_a_number(domain: &str) -> bool {
    let last = domain.rsplit('.').next().unwrap_or(domain);
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => last.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Echo at most 80 characters of rejected input back, so an error never reflects a huge body.
fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_namespace_rule() {
        for good in [
            "ab",
            "hpc-1",
            "a234567890123456789012345678901234567890123456789012345678901x",
        ] {
            assert!(ProviderId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "a",
            "1abc",
            "Abc",
            "ab_c",
            "ab.c",
            "",
            "-ab",
            &"a".repeat(64),
        ] {
            assert!(ProviderId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn production_requires_https_and_a_hostname() {
        let p = ProviderEnv::Production;
        assert_eq!(
            ProviderMetadata::new("hpc", "hpc.example.org", false, None, p),
            Err(MetadataError::ProductionWithoutHttps)
        );
        assert!(matches!(
            ProviderMetadata::new("hpc", "10.0.0.1", true, None, p),
            Err(MetadataError::IpDomainInProduction(_))
        ));
        assert!(
            ProviderMetadata::new("hpc", "127.0.0.1", false, Some(8000), ProviderEnv::Test).is_ok()
        );
        for bad in [
            "https://x.org",
            "x.org/path",
            "x.org:443",
            "-x.org",
            "x..org",
            "",
        ] {
            assert!(
                matches!(
                    ProviderMetadata::new("hpc", bad, true, None, p),
                    Err(MetadataError::BadDomain(..))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn numeric_ipv4_spellings_are_not_production_domains() {
        let p = ProviderEnv::Production;
        for numeric in [
            "127.1",
            "2130706433",
            "0x7f.1",
            "017700000001",
            "0x7f000001",
            "0X7F.0.0.1",
            "10.0.0.0x1",
            "hpc.example.123",
            "0x",
        ] {
            assert!(
                matches!(
                    ProviderMetadata::new("hpc", numeric, true, None, p),
                    Err(MetadataError::NumericDomain(_))
                ),
                "{numeric}"
            );
        }
        for name in [
            "hpc.example.org",
            "localhost",
            "1.2.3.example",
            "hpc.0xzz",
            "x1",
        ] {
            assert!(
                ProviderMetadata::new("hpc", name, true, None, p).is_ok(),
                "{name}"
            );
        }
        let err = ProviderMetadata::new("hpc", "127.1", true, None, p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"127.1\"") && err.contains("IPv4"), "{err}");
    }

    #[test]
    fn urls_omit_default_ports() {
        let m = ProviderMetadata::new(
            "hpc",
            "hpc.example.org",
            true,
            None,
            ProviderEnv::Production,
        )
        .unwrap();
        assert_eq!(m.namespace_url(), "https://hpc.example.org/ucloud/hpc");
        let m = ProviderMetadata::new("dev", "127.0.0.1", false, Some(9000), ProviderEnv::Test)
            .unwrap();
        assert_eq!(m.base_url(), "http://127.0.0.1:9000");
    }

    #[test]
    fn unknown_fields_and_bad_types_are_refused_with_the_field_named() {
        let err = serde_json::from_str::<ProviderMetadata>(
            r#"{"id":"hpc","domain":"h.org","https":true,"env":"production","owner":"x"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("owner"), "{err}");
        let err = serde_json::from_str::<ProviderMetadata>(
            r#"{"id":"hpc","domain":"h.org","https":true,"env":"staging"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("staging"), "{err}");
    }
}
