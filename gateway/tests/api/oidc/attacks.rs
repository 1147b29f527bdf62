//! Attacks on federated sign-in (SPEC §8): each is refused and signs nobody in.

use super::test_idp::Mode;
use super::{ada, arrive, sign_in, spawn, start_at_idp};
use crate::on_both_backends;
use crate::support::Backend;
use reqwest::StatusCode;

async fn nobody_has_an_account(app: &crate::support::TestApp, issuer: &str) {
    assert!(
        app.app
            .store
            .identity_user(issuer, "ada-1")
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_bad_id_token_is_refused_whatever_is_wrong_with_it(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    for (mode, says) in [
        (Mode::WrongNonce, "wrong nonce"),
        (Mode::NoNonce, "no nonce"),
        (Mode::OtherAudience, "another client"),
        (Mode::OtherAzp, "another client (azp)"),
        (Mode::OtherIssuer, "another issuer"),
        (Mode::Expired, "expired"),
        (Mode::AlgNone, "alg none"),
        (Mode::Hs256WithClientSecret, "HMAC"),
        (Mode::UnpublishedKey, "does not publish"),
    ] {
        idp.set_mode(mode);
        let o = sign_in(&app, &idp, ada()).await;
        assert_eq!(o.status, StatusCode::BAD_REQUEST, "{mode:?}: {}", o.body);
        assert!(o.session.is_none(), "{mode:?} signed somebody in");
        assert!(o.body.contains(says), "{mode:?}: {}", o.body);
        assert!(o.body.contains("href=\"/login\""), "{mode:?}: a way back");
        nobody_has_an_account(&app, &idp.issuer).await;
    }
    app.stop().await;
}
on_both_backends!(a_bad_id_token_is_refused_whatever_is_wrong_with_it);

async fn a_state_is_used_once_and_only_in_the_browser_that_started_it(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    idp.sign_in_next(ada());
    // Another browser (no cookie, or another attempt's cookie) cannot use the callback…
    let (callback, cookie) = start_at_idp(&app, "/providers").await;
    let (status, _, session, body) = arrive(&callback, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(session.is_none());
    // …and the attempt it touched is gone, even for the right browser.
    let (status, _, session, _) = arrive(&callback, Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(session.is_none());
    let (_, other_cookie) = start_at_idp(&app, "/providers").await;
    let (callback, _cookie) = start_at_idp(&app, "/providers").await;
    let (status, _, session, _) = arrive(&callback, Some(&other_cookie)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a foreign attempt's cookie"
    );
    assert!(session.is_none());
    nobody_has_an_account(&app, &idp.issuer).await;

    // A state replayed after a successful sign-in is refused.
    let o = sign_in(&app, &idp, ada()).await;
    assert!(o.session.is_some(), "{}", o.body);
    let (status, _, session, body) = arrive(&o.callback, Some(&o.oidc_cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("not valid any more"), "{body}");
    assert!(session.is_none());

    // A state the gateway never issued, or none at all.
    let forged = o.callback.replace("state=", "state=x");
    let (status, _, session, _) = arrive(&forged, Some(&o.oidc_cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(session.is_none());
    let (status, _, _, _) = arrive(&app.url("/auth/oidc/test/callback?code=x"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}
on_both_backends!(a_state_is_used_once_and_only_in_the_browser_that_started_it);

async fn an_expired_attempt_is_refused(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    idp.sign_in_next(ada());
    let (callback, cookie) = start_at_idp(&app, "/providers").await;
    app.clock.advance_secs(11 * 60);
    let (status, _, session, _) = arrive(&callback, Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(session.is_none());
    app.stop().await;
}
on_both_backends!(an_expired_attempt_is_refused);

async fn a_code_replayed_in_a_new_attempt_is_refused_by_the_identity_provider(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    let o = sign_in(&app, &idp, ada()).await;
    assert!(o.session.is_some());
    let code = url::Url::parse(&o.callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    // The attacker starts their own attempt and swaps in the stolen (used) code.
    let (callback, cookie) = start_at_idp(&app, "/providers").await;
    let mut swapped = url::Url::parse(&callback).unwrap();
    let state = swapped
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    swapped
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", &state);
    let (status, _, session, body) = arrive(swapped.as_str(), Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("invalid_grant"), "{body}");
    assert!(session.is_none());
    app.stop().await;
}
on_both_backends!(a_code_replayed_in_a_new_attempt_is_refused_by_the_identity_provider);

async fn a_cancelled_sign_in_says_so_and_hostile_callbacks_get_pages_not_errors(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    idp.sign_in_next(ada());
    let (callback, cookie) = start_at_idp(&app, "/providers").await;
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cancelled = app.url(&format!(
        "/auth/oidc/test/callback?error=access_denied&state={state}"
    ));
    let (status, _, session, body) = arrive(&cancelled, Some(&cookie)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(session.is_none());
    assert!(body.contains("cancelled at Test University"), "{body}");
    for hostile in [
        "/auth/oidc/test/callback?state=%00",
        "/auth/oidc/test/callback?code=a&code=b&state=c",
        &format!("/auth/oidc/test/callback?state={}", "s".repeat(5000)),
        "/auth/oidc/%2e%2e/callback?state=x",
        "/auth/oidc/test/start?next=//evil.example",
    ] {
        let r = super::no_redirects()
            .get(app.url(hostile))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_client_error() || r.status().is_redirection(),
            "{hostile}: {}",
            r.status()
        );
        if r.status().is_redirection() {
            // start: the IdP URL, never the evil next.
            let to = r.headers()["location"].to_str().unwrap();
            assert!(to.starts_with(&idp.issuer), "{to}");
        }
    }
    app.stop().await;
}
on_both_backends!(a_cancelled_sign_in_says_so_and_hostile_callbacks_get_pages_not_errors);

async fn a_discovery_document_for_another_issuer_or_without_our_client_auth_is_not_used(
    backend: Backend,
) {
    for (mode, says) in [
        (Mode::DiscoveryOtherIssuer, "names the issuer"),
        (
            Mode::DiscoveryPostOnly,
            "does not allow token_auth client_secret_basic",
        ),
    ] {
        let (app, idp) = spawn(backend, true).await;
        idp.set_mode(mode);
        let r = super::no_redirects()
            .get(app.url("/auth/oidc/test/start"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "{mode:?}");
        let page = r.text().await.unwrap();
        assert!(page.contains(says), "{mode:?}: {page}");
        app.stop().await;
    }
}
on_both_backends!(a_discovery_document_for_another_issuer_or_without_our_client_auth_is_not_used);
