//! Development TLS material for `gateway certs dev`: a local CA and a server certificate it signs, so the
//! gateway and dev providers can speak https on this machine without a public CA. Never for production.
//!
//! Files in the output folder: `ca.pem`, `ca-key.pem` (made once, then reused, since it is what people add
//! to their trust stores) and `server.pem`, `server-key.pem` (re-issued only for a reason: missing, not
//! from this CA, expiring within 30 days, or not covering a requested host). Keys are written 0600.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server-key.pem";
/// The hosts of the server certificate when none are given.
pub const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

const CA_VALIDITY: Duration = Duration::days(3650);
const SERVER_VALIDITY: Duration = Duration::days(365);
/// A server certificate with less left than this is re-issued.
const RENEW_BEFORE: Duration = Duration::days(30);
/// Certificates start an hour in the past, so a clock slightly behind does not reject them.
const BACKDATE: Duration = Duration::hours(1);
const CA_COMMON_NAME: &str = "UCloud gateway development CA";

/// Where the material is, and what this call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCertPaths {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A new CA was made (false: the existing one was reused).
    pub ca_created: bool,
    /// A new server certificate and key were written (false: the existing ones still fit).
    pub server_issued: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DevCertError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("host {0:?} is neither a DNS name nor an IP address")]
    BadHost(String),
    #[error(
        "{} exists without {}; restore it, or move both away to make a new CA",
        present.display(),
        missing.display()
    )]
    HalfCa { present: PathBuf, missing: PathBuf },
    #[error("{}: {why}; move ca.pem and ca-key.pem away to make a new CA", path.display())]
    UnusableCa { path: PathBuf, why: String },
    #[error("could not generate a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// [`generate_at`] the current time.
pub fn generate(out_dir: &Path, hosts: &[String]) -> Result<DevCertPaths, DevCertError> {
    generate_at(out_dir, hosts, OffsetDateTime::now_utc())
}

/// Makes (or reuses) the dev CA in `out_dir` and a server certificate it signs for `hosts`
/// (DNS names or IP addresses; [`DEFAULT_HOSTS`] when empty), both valid from `now`.
pub fn generate_at(
    out_dir: &Path,
    hosts: &[String],
    now: OffsetDateTime,
) -> Result<DevCertPaths, DevCertError> {
    let hosts = parse_hosts(hosts)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(out_dir)
        .map_err(io(out_dir))?;
    let mut paths = DevCertPaths {
        ca_cert: out_dir.join(CA_CERT),
        ca_key: out_dir.join(CA_KEY),
        server_cert: out_dir.join(SERVER_CERT),
        server_key: out_dir.join(SERVER_KEY),
        ca_created: false,
        server_issued: false,
    };
    let (ca_key, ca_der) = match (paths.ca_cert.exists(), paths.ca_key.exists()) {
        (true, true) => load_ca(&paths)?,
        (false, false) => {
            paths.ca_created = true;
            create_ca(&paths, now)?
        }
        (true, false) => return Err(half(&paths.ca_cert, &paths.ca_key)),
        (false, true) => return Err(half(&paths.ca_key, &paths.ca_cert)),
    };
    let keep = !paths.ca_created && server_still_fits(&paths, &ca_der, &hosts, now);
    if !keep {
        issue_server(&paths, &ca_key, &ca_der, &hosts, now)?;
        paths.server_issued = true;
    }
    Ok(paths)
}

/// Requested hosts, deduplicated, as TLS names (`[::1]` is accepted for `::1`).
fn parse_hosts(hosts: &[String]) -> Result<Vec<(String, ServerName<'static>)>, DevCertError> {
    let defaults = DEFAULT_HOSTS.map(str::to_owned);
    let hosts = if hosts.is_empty() {
        &defaults[..]
    } else {
        hosts
    };
    let mut parsed: Vec<(String, ServerName<'static>)> = Vec::new();
    for raw in hosts {
        let host = raw.trim().trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| DevCertError::BadHost(raw.clone()))?;
        if !parsed.iter().any(|(seen, _)| seen == host) {
            parsed.push((host.to_owned(), name));
        }
    }
    Ok(parsed)
}

/// The CA's parameters. Reusing a CA rebuilds them to sign with, so they must not depend on the input.
fn ca_params(now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_COMMON_NAME);
    name.push(
        DnType::OrganizationName,
        "UCloud gateway (development only)",
    );
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    params
}

fn create_ca(
    paths: &DevCertPaths,
    now: OffsetDateTime,
) -> Result<(KeyPair, CertificateDer<'static>), DevCertError> {
    let key = KeyPair::generate()?;
    let cert = ca_params(now).self_signed(&key)?;
    write_new(&paths.ca_key, &key.serialize_pem(), 0o600)?;
    write_new(&paths.ca_cert, &cert.pem(), 0o644)?;
    Ok((key, cert.der().clone()))
}

fn load_ca(paths: &DevCertPaths) -> Result<(KeyPair, CertificateDer<'static>), DevCertError> {
    let unusable = |path: &Path, why: String| DevCertError::UnusableCa {
        path: path.to_owned(),
        why,
    };
    let key_pem = std::fs::read_to_string(&paths.ca_key).map_err(io(&paths.ca_key))?;
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|e| unusable(&paths.ca_key, format!("not a private key ({e})")))?;
    let der = CertificateDer::from_pem_file(&paths.ca_cert)
        .map_err(|e| unusable(&paths.ca_cert, format!("not a PEM certificate ({e})")))?;
    let spki = key.subject_public_key_info();
    if !der
        .windows(spki.len())
        .any(|window| window == spki.as_slice())
    {
        return Err(unusable(
            &paths.ca_cert,
            format!("not the certificate of {CA_KEY}"),
        ));
    }
    Ok((key, der))
}

/// The existing server certificate and key still fit: both present and paired, signed by this CA, valid
/// now and for [`RENEW_BEFORE`] more, for every requested host.
fn server_still_fits(
    paths: &DevCertPaths,
    ca: &CertificateDer<'static>,
    hosts: &[(String, ServerName<'static>)],
    now: OffsetDateTime,
) -> bool {
    let Ok(key_pem) = std::fs::read_to_string(&paths.server_key) else {
        return false;
    };
    let (Ok(key), Ok(leaf)) = (
        KeyPair::from_pem(&key_pem),
        CertificateDer::from_pem_file(&paths.server_cert),
    ) else {
        return false;
    };
    let spki = key.subject_public_key_info();
    let paired = leaf
        .windows(spki.len())
        .any(|window| window == spki.as_slice());
    paired
        && verify(ca, &leaf, hosts, now).is_ok()
        && verify(ca, &leaf, hosts, now + RENEW_BEFORE).is_ok()
}

fn issue_server(
    paths: &DevCertPaths,
    ca_key: &KeyPair,
    ca_der: &CertificateDer<'static>,
    hosts: &[(String, ServerName<'static>)],
    now: OffsetDateTime,
) -> Result<(), DevCertError> {
    let names: Vec<String> = hosts.iter().map(|(host, _)| host.clone()).collect();
    let mut params = CertificateParams::new(names.clone())?;
    let mut subject = DistinguishedName::new();
    subject.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    params.distinguished_name = subject;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = now + SERVER_VALIDITY;

    let key = KeyPair::generate()?;
    let issuer = Issuer::new(ca_params(now), ca_key);
    let cert = params.signed_by(&key, &issuer)?;
    // An existing CA from elsewhere would sign certificates nobody can verify: check before writing.
    verify(ca_der, cert.der(), hosts, now).map_err(|why| DevCertError::UnusableCa {
        path: paths.ca_cert.clone(),
        why: format!("a certificate it signs does not verify ({why})"),
    })?;
    replace(&paths.server_key, &key.serialize_pem(), 0o600)?;
    replace(&paths.server_cert, &cert.pem(), 0o644)
}

/// Verifies `leaf` as a TLS server certificate chaining to `ca`, for every host, at `at`.
fn verify(
    ca: &CertificateDer<'static>,
    leaf: &CertificateDer<'_>,
    hosts: &[(String, ServerName<'static>)],
    at: OffsetDateTime,
) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| e.to_string())?;
    let seconds = u64::try_from(at.unix_timestamp()).map_err(|_| "a time before 1970")?;
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    for (host, name) in hosts {
        verifier
            .verify_server_cert(leaf, &[], name, &[], at)
            .map_err(|e| format!("{host}: {e}"))?;
    }
    Ok(())
}

/// Writes a file that must not exist yet, with `mode` from the start (no window where a key is readable).
fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), DevCertError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    file.write_all(contents.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Replaces a file atomically: written next to it under a temporary name, then renamed over it.
fn replace(path: &Path, contents: &str, mode: u32) -> Result<(), DevCertError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let temporary = PathBuf::from(temporary);
    match std::fs::remove_file(&temporary) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&temporary)(e)),
        _ => {}
    }
    write_new(&temporary, contents, mode)?;
    std::fs::rename(&temporary, path).map_err(io(path))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevCertError + '_ {
    move |source| DevCertError::Io {
        path: path.to_owned(),
        source,
    }
}

fn half(present: &Path, missing: &Path) -> DevCertError {
    DevCertError::HalfCa {
        present: present.to_owned(),
        missing: missing.to_owned(),
    }
}

#[cfg(test)]
mod tests;
