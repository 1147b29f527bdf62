//! Dev certificates: files and modes, a leaf that verifies against its CA, and reuse over overwriting.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU32, Ordering};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2030-06-01 12:00 UTC);

/// A fresh folder under the system temp dir, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "gateway-devcerts-{}-{name}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir.join("certs/dev"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(root) = self.0.parent().and_then(Path::parent) {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn pem_cert(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

fn names(hosts: &[&str]) -> Vec<(String, ServerName<'static>)> {
    let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
    parse_hosts(&hosts).unwrap()
}

#[test]
fn generating_writes_a_ca_and_a_server_pair_with_private_keys_0600() {
    let dir = Scratch::new("files");
    let paths = generate_at(&dir.0, &[], NOW).unwrap();
    assert!(paths.ca_created && paths.server_issued);
    assert_eq!(paths.ca_cert, dir.0.join("ca.pem"));
    assert_eq!(paths.server_key, dir.0.join("server-key.pem"));
    for cert in [&paths.ca_cert, &paths.server_cert] {
        assert!(
            read(cert).starts_with("-----BEGIN CERTIFICATE-----"),
            "{cert:?}"
        );
    }
    for key in [&paths.ca_key, &paths.server_key] {
        assert!(
            read(key).starts_with("-----BEGIN PRIVATE KEY-----"),
            "{key:?}"
        );
        assert_eq!(mode(key), 0o600, "{key:?}");
    }
    assert_eq!(mode(&dir.0), 0o700);
    let names: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 4, "no temporary files left behind: {names:?}");
}

#[test]
fn the_server_certificate_is_signed_by_the_ca_for_every_default_host() {
    let dir = Scratch::new("chain");
    let paths = generate_at(&dir.0, &[], NOW).unwrap();
    let (ca, leaf) = (pem_cert(&paths.ca_cert), pem_cert(&paths.server_cert));
    verify(&ca, &leaf, &names(&["localhost", "127.0.0.1", "::1"]), NOW).unwrap();

    let error = verify(&ca, &leaf, &names(&["example.com"]), NOW).unwrap_err();
    assert!(error.contains("example.com"), "{error}");
    let expired = verify(
        &ca,
        &leaf,
        &names(&["localhost"]),
        NOW + Duration::days(366),
    );
    assert!(expired.unwrap_err().contains("expired"));

    let other = Scratch::new("other-ca");
    let other_ca = pem_cert(&generate_at(&other.0, &[], NOW).unwrap().ca_cert);
    assert!(
        verify(&other_ca, &leaf, &names(&["localhost"]), NOW).is_err(),
        "another CA does not vouch for it"
    );
}

#[test]
fn a_second_call_reuses_the_ca_and_a_server_certificate_that_still_fits() {
    let dir = Scratch::new("reuse");
    let first = generate_at(&dir.0, &[], NOW).unwrap();
    let before: Vec<String> = [
        &first.ca_cert,
        &first.ca_key,
        &first.server_cert,
        &first.server_key,
    ]
    .map(|p| read(p))
    .into();
    let second = generate_at(&dir.0, &[], NOW + Duration::days(30)).unwrap();
    assert!(!second.ca_created && !second.server_issued);
    let after: Vec<String> = [
        &second.ca_cert,
        &second.ca_key,
        &second.server_cert,
        &second.server_key,
    ]
    .map(|p| read(p))
    .into();
    assert_eq!(before, after, "nothing was rewritten");
}

#[test]
fn new_hosts_or_an_expiring_certificate_get_a_new_server_certificate_from_the_same_ca() {
    let dir = Scratch::new("reissue");
    let first = generate_at(&dir.0, &[], NOW).unwrap();
    let ca = read(&first.ca_cert);

    let hosts = vec![
        "gateway.test".to_owned(),
        "[::1]".to_owned(),
        "gateway.test".to_owned(),
    ];
    let renamed = generate_at(&dir.0, &hosts, NOW).unwrap();
    assert!(!renamed.ca_created && renamed.server_issued);
    assert_eq!(read(&renamed.ca_cert), ca);
    let leaf = pem_cert(&renamed.server_cert);
    verify(
        &pem_cert(&renamed.ca_cert),
        &leaf,
        &names(&["gateway.test", "::1"]),
        NOW,
    )
    .unwrap();
    assert_eq!(
        mode(&renamed.server_key),
        0o600,
        "a replaced key is 0600 too"
    );

    let late = NOW + Duration::days(340);
    let renewed = generate_at(&dir.0, &hosts, late).unwrap();
    assert!(
        renewed.server_issued,
        "25 days left is less than the 30-day margin"
    );
    let renewed_leaf = pem_cert(&renewed.server_cert);
    verify(
        &pem_cert(&renewed.ca_cert),
        &renewed_leaf,
        &names(&["gateway.test"]),
        late + Duration::days(300),
    )
    .unwrap();
}

#[test]
fn half_a_ca_is_an_error_and_nothing_is_overwritten() {
    let dir = Scratch::new("half");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join(CA_CERT), "precious").unwrap();
    let error = generate_at(&dir.0, &[], NOW).unwrap_err();
    assert!(matches!(error, DevCertError::HalfCa { .. }), "{error}");
    assert_eq!(read(&dir.0.join(CA_CERT)), "precious");
    assert!(!dir.0.join(SERVER_CERT).exists());
}

#[test]
fn a_ca_key_that_does_not_match_its_certificate_is_refused() {
    let (one, two) = (Scratch::new("mismatch-a"), Scratch::new("mismatch-b"));
    generate_at(&one.0, &[], NOW).unwrap();
    let other = generate_at(&two.0, &[], NOW).unwrap();
    std::fs::copy(&other.ca_key, one.0.join(CA_KEY)).unwrap();
    let server_before = read(&one.0.join(SERVER_CERT));

    let error = generate_at(&one.0, &["new.test".to_owned()], NOW).unwrap_err();
    assert!(matches!(error, DevCertError::UnusableCa { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("not the certificate of ca-key.pem"),
        "{error}"
    );
    assert_eq!(read(&one.0.join(SERVER_CERT)), server_before);
}

#[test]
fn hosts_must_be_dns_names_or_ip_addresses() {
    let dir = Scratch::new("hosts");
    for bad in ["", "https://localhost", "local host", "a..b"] {
        let error = generate_at(&dir.0, &[bad.to_owned()], NOW).unwrap_err();
        assert!(
            matches!(error, DevCertError::BadHost(_)),
            "{bad:?}: {error}"
        );
    }
    assert!(!dir.0.exists(), "nothing is created for a bad request");
    assert_eq!(names(&["localhost", "localhost", "10.0.0.1"]).len(), 2);
}
