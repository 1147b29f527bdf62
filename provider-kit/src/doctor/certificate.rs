//! The provider's own TLS certificate as a doctor line (when it serves HTTPS): the names it is
//! valid for and when it expires — failed when it has expired or is not valid yet, a warning
//! within 14 days of expiry or when it holds no DNS or IP name (browsers and the gateway ignore the
//! common name).

use std::net::IpAddr;
use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::extensions::GeneralName;

use super::{Check, CheckName};

/// Warn this close to expiry.
pub const EXPIRY_WARNING_SECS: i64 = 14 * 86_400;

/// The first certificate of the PEM chain at `path`, judged at `now` (Unix seconds).
pub fn certificate(path: &Path, now: i64) -> Check {
    let fail = |summary: String| {
        Check::fail(
            CheckName::TlsCertificate,
            summary,
            "point --tls-cert at the PEM chain the provider serves (leaf first)",
        )
    };
    let first = match CertificateDer::pem_file_iter(path) {
        Ok(mut chain) => chain.next(),
        Err(error) => return fail(format!("cannot read {}: {error}", path.display())),
    };
    let der = match first {
        Some(Ok(der)) => der,
        Some(Err(error)) => return fail(format!("{} is not PEM: {error}", path.display())),
        None => return fail(format!("{} holds no certificate", path.display())),
    };
    let cert = match x509_parser::parse_x509_certificate(&der) {
        Ok((_, cert)) => cert,
        Err(error) => {
            return fail(format!(
                "{} is not an X.509 certificate: {error}",
                path.display()
            ));
        }
    };
    let names: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    GeneralName::IPAddress(bytes) => ip(bytes).map(|ip| ip.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let expires = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(not_after).unwrap_or(0)),
    );
    let details =
        serde_json::json!({"names": names, "notBefore": not_before, "notAfter": not_after});
    let shown = if names.is_empty() {
        "no DNS or IP name".to_owned()
    } else {
        names.join(", ")
    };
    let summary = format!("{shown}; expires {expires}");
    let renew =
        "renew the certificate and put it in place: the provider reloads it without a restart";
    let check = if now >= not_after {
        Check::fail(
            CheckName::TlsCertificate,
            format!("expired: {summary}"),
            renew,
        )
    } else if now < not_before {
        Check::fail(
            CheckName::TlsCertificate,
            format!("not valid yet: {summary}"),
            "check this machine's clock, or wait for the certificate's start",
        )
    } else if names.is_empty() {
        Check::warn(
            CheckName::TlsCertificate,
            summary,
            "issue the certificate with the provider's host name as a subjectAltName",
        )
    } else if not_after - now < EXPIRY_WARNING_SECS {
        Check::warn(
            CheckName::TlsCertificate,
            format!("expires soon: {summary}"),
            renew,
        )
    } else {
        Check::pass(CheckName::TlsCertificate, summary)
    };
    check.with_details(details)
}

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}
