//! `doctor`'s TLS certificate line on certificates made by the project's dev CA: the names and the
//! expiry, passing while valid, warning near expiry, failing once expired, before its start, or
//! when the file is not a certificate.

use provider_kit::doctor::{CheckName, EXPIRY_WARNING_SECS, Status, certificate};

use crate::support::process::TempDir;

#[test]
fn the_certificate_line_names_the_hosts_and_judges_the_expiry() {
    let dir = TempDir::new("doctor-cert");
    gateway::tls::devcerts::generate(&dir.0, &["provider.test".into(), "127.0.0.1".into()])
        .expect("dev certificate");
    let pem = dir.join("server.pem");
    let valid = certificate(&pem, 0);
    let not_before = valid.details["notBefore"].as_i64().expect("notBefore");
    let not_after = valid.details["notAfter"].as_i64().expect("notAfter");
    let now = not_before + 60;

    let fine = certificate(&pem, now);
    assert_eq!(
        (fine.check, fine.status),
        (CheckName::TlsCertificate, Status::Pass)
    );
    assert!(
        fine.summary
            .starts_with("provider.test, 127.0.0.1; expires "),
        "{}",
        fine.summary
    );

    let soon = certificate(&pem, not_after - EXPIRY_WARNING_SECS + 60);
    assert_eq!(soon.status, Status::Warn);
    assert!(soon.summary.starts_with("expires soon"), "{}", soon.summary);
    let expired = certificate(&pem, not_after + 1);
    assert_eq!(expired.status, Status::Fail);
    assert!(
        expired.summary.starts_with("expired"),
        "{}",
        expired.summary
    );
    assert!(
        expired
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("without a restart"))
    );
    let early = certificate(&pem, not_before - 3_600);
    assert_eq!(early.status, Status::Fail);
    assert!(
        early.summary.starts_with("not valid yet"),
        "{}",
        early.summary
    );

    std::fs::write(dir.join("junk.pem"), "not a certificate").expect("write");
    let junk = certificate(&dir.join("junk.pem"), now);
    assert_eq!(junk.status, Status::Fail);
    let missing = certificate(&dir.join("missing.pem"), now);
    assert_eq!(missing.status, Status::Fail);
}
