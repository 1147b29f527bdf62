//! "Why can't I use this?" in real headless Chromium (SPEC §9): a user who fails three checks at
//! once — a provider's terms, two-factor and assurance — sees all three on the page, each with its
//! way out; following the first (the terms) and accepting them turns that check green.

use e2e::browser::Browser;
use e2e::process::{Gateway, NewUser};
use e2e::provider::ExplicitMappingProvider;
use std::time::Duration;

/// Terms, two factors and medium assurance; accounts are connected on first use.
const DEMANDING: &str = "users:\n  requireExplicitMapping: false\n  requireTwoFactor: true\n  requireAssurance: [\"https://refeds.org/assurance/IAP/medium\"]\n  terms: { version: \"2026-01\", title: \"HPC acceptable use\", url: \"https://hpc.example.org/aup\" }\nfeatures:\n  storage: { enabled: true }\n";

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_user_failing_three_checks_sees_each_with_its_way_out() {
    let gateway = Gateway::new(None);
    let alice = gateway.create_user_with_token(
        &NewUser::new("alice", "alice@example.org", "Alice", "Smith").password("alice-password"),
    );
    let _server = gateway.serve().await;
    let _provider =
        ExplicitMappingProvider::start_with_manifest(&gateway, &alice, "hpc", &[], DEMANDING).await;

    let mut browser = Browser::launch().await;
    browser.goto(&gateway.url("/providers")).await;
    browser
        .wait_for("location.pathname === '/login'", WAIT)
        .await;
    browser.sign_in("alice", "alice-password").await;
    browser
        .wait_for("document.getElementById('why-hpc') !== null", WAIT)
        .await;
    // Before Connect, the providers page says what the provider requires.
    let listed = browser.eval("document.body.innerText").await;
    let listed = listed.as_str().unwrap();
    for requirement in [
        "terms (HPC acceptable use)",
        "two-factor sign-in",
        "https://refeds.org/assurance/IAP/medium",
    ] {
        assert!(listed.contains(requirement), "{requirement} in {listed}");
    }

    browser.click("#why-hpc").await;
    browser
        .wait_for("location.pathname === '/providers/hpc/access'", WAIT)
        .await;
    browser
        .wait_for("document.getElementById('check-assurance') !== null", WAIT)
        .await;
    browser.look("access-three-refusals").await;
    let failed = browser.ids("tr.failed").await;
    assert_eq!(
        failed, "check-agreements check-twoFactor check-assurance",
        "exactly the three failing checks"
    );
    for (check, way_out, words) in [
        (
            "agreements",
            "/agreements?provider=hpc",
            "HPC acceptable use",
        ),
        ("twoFactor", "/login", "two-factor"),
        (
            "assurance",
            "/login",
            "https://refeds.org/assurance/IAP/medium",
        ),
    ] {
        let row = browser
            .eval(&format!(
                "document.getElementById('check-{check}').innerText"
            ))
            .await;
        assert!(row.as_str().unwrap().contains(words), "{check}: {row}");
        let href = browser
            .eval(&format!(
                "document.querySelector('#check-{check} a.way-out').getAttribute('href')"
            ))
            .await;
        assert_eq!(href, gateway.url(way_out), "{check}");
    }
    let passed = browser.ids("tr.ok").await;
    assert_eq!(
        passed,
        "check-account check-provider check-project check-connection"
    );

    // The first way out: read and accept the provider's terms; the check turns green.
    browser.click("#check-agreements a.way-out").await;
    browser
        .wait_for("document.getElementById('accept-hpc') !== null", WAIT)
        .await;
    browser.look("agreements-provider-terms").await;
    let terms = browser
        .eval("document.querySelector('a[rel=noreferrer]').getAttribute('href')")
        .await;
    assert_eq!(terms, "https://hpc.example.org/aup");
    browser.click("#accept-hpc").await;
    browser
        .wait_for(
            "document.body.innerText.includes('You have accepted everything')",
            WAIT,
        )
        .await;
    browser.goto(&gateway.url("/providers/hpc/access")).await;
    browser
        .wait_for(
            "document.getElementById('check-agreements') !== null && document.getElementById('check-agreements').className === 'ok'",
            WAIT,
        )
        .await;
    let failed = browser.ids("tr.failed").await;
    assert_eq!(failed, "check-twoFactor check-assurance");
}
