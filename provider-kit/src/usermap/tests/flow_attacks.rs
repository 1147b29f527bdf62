//! Attacks on the provider's half of the usermap flow. Each is refused with a clear page, and
//! afterwards nothing is mapped and nothing was reported.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::support::{FlowApp, PASSWORD, RETURN_URL, flow_app, usermap_token};

mod confirm;
use crate::auth::tests::kit;
use crate::protocol::TYP_SERVICE;

pub(super) const DAN: &str = "DanSebastianThrane#1234";

pub(super) async fn assert_nothing_changed(app: &FlowApp) {
    assert!(
        app.mapping_of(DAN).await.is_none(),
        "a mapping was recorded"
    );
    assert!(app.reports().is_empty(), "the gateway was told something");
}

#[tokio::test]
async fn a_tampered_forged_mistyped_misaddressed_or_expired_token_starts_nothing() {
    let app = flow_app().await;
    let good = usermap_token("nonce-1", |c| c);
    let (head, rest) = good.split_once('.').expect("a JWT");
    let (_, signature) = rest.split_once('.').expect("a JWT");
    let mut claims = kit::usermap_claims();
    claims["principal"]["username"] = json!("Mallory#666");
    let tampered = format!(
        "{head}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let forged = kit::attacker_key().sign(
        &kit::header(crate::protocol::TYP_USERMAP, "gw-1"),
        &kit::usermap_claims(),
    );
    let service_typ =
        kit::gateway_key().sign(&kit::header(TYP_SERVICE, "gw-1"), &kit::usermap_claims());
    let other_provider = usermap_token("nonce-2", |c| kit::with(c, "aud", json!("otherprovider")));
    let expired = usermap_token("nonce-3", |c| kit::with(c, "exp", json!(kit::NOW - 120)));
    let no_principal = usermap_token("nonce-4", |c| {
        kit::with(c, "principal", serde_json::Value::Null)
    });
    let script_return = usermap_token("nonce-5", |c| {
        kit::with(c, "returnUrl", json!("javascript:alert(1)"))
    });
    let empty_nonce = usermap_token("", |c| c);
    for (why, token) in [
        ("tampered", tampered.as_str()),
        ("forged", &forged),
        ("wrong typ", &service_typ),
        ("wrong aud", &other_provider),
        ("expired", &expired),
        ("no principal", &no_principal),
        ("javascript: return URL", &script_return),
        ("empty nonce", &empty_nonce),
        ("not a JWT", "not-a-token"),
    ] {
        let answer = app.start(&[("token", token)]).await;
        assert_eq!(answer.status, 400, "{why}: {}", answer.body);
        assert!(
            answer.body.contains("This connection link is not valid"),
            "{why}"
        );
        assert_eq!(answer.set_cookie, None, "{why}");
    }
    let missing = app.start(&[("nonce", "nonce-1")]).await;
    assert_eq!((missing.status, missing.set_cookie), (400, None));
    assert_nothing_changed(&app).await;
}

#[tokio::test]
async fn a_usermap_token_is_accepted_once() {
    let app = flow_app().await;
    let token = usermap_token("nonce-1", |c| c);
    assert_eq!(app.start(&[("token", &token)]).await.status, 302);
    let replay = app.start(&[("token", &token)]).await;
    assert_eq!(replay.status, 409);
    assert!(replay.body.contains("already used"));
    assert_eq!(replay.set_cookie, None);
}

#[tokio::test]
async fn a_completed_attempt_cannot_be_completed_again() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    let page = app.sign_in(&cookie, &csrf, "alice").await;
    assert_eq!(app.confirm(Some(&cookie), &page.csrf()).await.status, 303);
    let again = app.submit(Some(&cookie), &csrf, "bob", PASSWORD).await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("already completed"));
    assert_eq!(app.login_page(Some(&cookie)).await.status, 409);
    assert_eq!(app.confirm(Some(&cookie), &page.csrf()).await.status, 409);
    assert_eq!(app.reports().len(), 1);
    assert_eq!(
        app.mapping_of(DAN).await.expect("mapped").account.name,
        "alice"
    );
}

#[tokio::test]
async fn two_confirms_racing_on_one_attempt_complete_it_once() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    let confirm_csrf = app.sign_in(&cookie, &csrf, "alice").await.csrf();
    let (a, b) = tokio::join!(
        app.confirm(Some(&cookie), &confirm_csrf),
        app.confirm(Some(&cookie), &confirm_csrf)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 409]);
    assert_eq!(app.reports().len(), 1);
}

#[tokio::test]
async fn an_expired_attempt_is_refused_and_changes_nothing() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    // The token lived 300 s; the attempt lives no longer.
    app.harness.clock.advance(301);
    let page = app.login_page(Some(&cookie)).await;
    assert_eq!(page.status, 410);
    let late = app.submit(Some(&cookie), &csrf, "alice", PASSWORD).await;
    assert_eq!(late.status, 410);
    assert!(late.body.contains("expired"));
    assert_nothing_changed(&app).await;
}

#[tokio::test]
async fn an_attempt_that_expires_on_the_confirm_page_is_refused_and_changes_nothing() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    let confirm_csrf = app.sign_in(&cookie, &csrf, "alice").await.csrf();
    app.harness.clock.advance(301);
    let late = app.confirm(Some(&cookie), &confirm_csrf).await;
    assert_eq!(late.status, 410, "{}", late.body);
    assert_nothing_changed(&app).await;
}

#[tokio::test]
async fn a_browser_without_the_attempt_cookie_or_with_a_made_up_one_is_refused() {
    let app = flow_app().await;
    let (_, csrf) = app.begin("nonce-1").await;
    let cookie_name = crate::usermap::ATTEMPT_COOKIE;
    for cookie in [
        None,
        Some(format!("{cookie_name}=made-up")),
        Some(format!("{cookie_name}={}", "x".repeat(500))),
    ] {
        let answer = app
            .submit(cookie.as_deref(), &csrf, "alice", PASSWORD)
            .await;
        assert_eq!(answer.status, 400, "{cookie:?}");
        assert!(
            answer
                .body
                .contains("No connection is in progress in this browser")
        );
        assert_eq!(app.login_page(cookie.as_deref()).await.status, 400);
    }
    assert_nothing_changed(&app).await;
}

#[tokio::test]
async fn a_form_posted_with_another_attempts_csrf_token_or_none_is_refused() {
    let app = flow_app().await;
    // The attacker's own attempt gives them a valid CSRF token; the victim's browser holds its own
    // cookie. Mixing the two (a cross-site form with the attacker's token) must fail.
    let (_attacker_cookie, attacker_csrf) = app.begin("nonce-attacker").await;
    let (victim_cookie, victim_csrf) = app.begin("nonce-victim").await;
    for csrf in [attacker_csrf.as_str(), "", "x"] {
        let answer = app
            .submit(Some(&victim_cookie), csrf, "alice", PASSWORD)
            .await;
        assert_eq!(answer.status, 403, "{csrf:?}");
        assert!(
            answer
                .body
                .contains("does not belong to your connection attempt")
        );
    }
    let no_fields = app
        .browser
        .post(format!("{}{}", app.base, super::support::LOGIN_PATH))
        .header("cookie", &victim_cookie)
        .form(&[("username", "alice")])
        .send()
        .await
        .expect("answer");
    assert_eq!(no_fields.status(), 403);
    assert_nothing_changed(&app).await;
    let done = app
        .sign_in_and_confirm(&victim_cookie, &victim_csrf, "alice")
        .await;
    assert_eq!(done.status, 303, "the victim's own attempt is untouched");
}

#[tokio::test]
async fn a_return_url_from_anywhere_but_the_token_is_ignored() {
    let app = flow_app().await;
    let token = usermap_token("nonce-1", |c| c);
    let started = app
        .start(&[
            ("token", token.as_str()),
            ("returnUrl", "https://evil.example/steal"),
        ])
        .await;
    assert_eq!(started.status, 302);
    let cookie = started.cookie();
    let csrf = app.login_page(Some(&cookie)).await.csrf();
    let answer = app
        .browser
        .post(format!(
            "{}{}?returnUrl=https://evil.example/q",
            app.base,
            super::support::LOGIN_PATH
        ))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
            ("returnUrl", "https://evil.example/form"),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 303);
    let confirm_csrf = app.confirm_page(Some(&cookie)).await.csrf();
    let answer = app
        .browser
        .post(format!(
            "{}{}?returnUrl=https://evil.example/q",
            app.base,
            super::support::CONFIRM_PATH
        ))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", confirm_csrf.as_str()),
            ("returnUrl", "https://evil.example/form"),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().expect("ASCII");
    assert_eq!(
        location,
        format!("{RETURN_URL}?nonce=nonce-1&code=code-nonce-1")
    );
}

#[tokio::test]
async fn a_connected_user_cannot_be_remapped_and_an_account_cannot_serve_two_users() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    assert_eq!(
        app.sign_in_and_confirm(&cookie, &csrf, "alice")
            .await
            .status,
        303
    );

    let (cookie, csrf) = app.begin("nonce-2").await;
    let remap = app.sign_in_and_confirm(&cookie, &csrf, "bob").await;
    assert_eq!(remap.status, 409);
    assert!(remap.body.contains("Disconnect it at the gateway first"));
    assert_eq!(
        app.mapping_of(DAN).await.expect("mapped").account.name,
        "alice"
    );

    let eve = usermap_token("nonce-3", |mut c| {
        c["principal"]["username"] = json!("Eve#1");
        c
    });
    let started = app.start(&[("token", &eve)]).await;
    let eve_cookie = started.cookie();
    let eve_csrf = app.login_page(Some(&eve_cookie)).await.csrf();
    let taken = app
        .sign_in_and_confirm(&eve_cookie, &eve_csrf, "alice")
        .await;
    assert_eq!(taken.status, 409);
    assert!(
        taken
            .body
            .contains("already connected to another gateway user")
    );
    assert!(app.mapping_of("Eve#1").await.is_none());
    assert_eq!(
        app.reports().len(),
        1,
        "only the first connection was reported"
    );

    // The refused remap did not use up its attempt: the same user can still confirm alice.
    let confirm = app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    assert_eq!(confirm.status, 303);
}

#[tokio::test]
async fn error_pages_never_show_the_token() {
    let app = flow_app().await;
    let token = usermap_token("nonce-1", |c| kit::with(c, "aud", json!("otherprovider")));
    let answer = app.start(&[("token", &token)]).await;
    let signature = token.rsplit('.').next().expect("a JWT");
    assert!(!answer.body.contains(signature) && !answer.body.contains("nonce-1"));
}

#[tokio::test]
async fn guessing_passwords_closes_the_attempt_after_a_few_wrong_ones() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    for _ in 1..crate::usermap::MAX_LOGIN_FAILURES {
        let wrong = app
            .submit(Some(&cookie), &csrf, "alice", "guess-guess")
            .await;
        assert_eq!(wrong.status, 401);
    }
    let last_wrong = app
        .submit(Some(&cookie), &csrf, "alice", "guess-guess")
        .await;
    assert_eq!(last_wrong.status, 429);
    let closed = app.submit(Some(&cookie), &csrf, "alice", PASSWORD).await;
    assert_eq!(closed.status, 429, "{}", closed.body);
    assert!(closed.body.contains("Too many wrong passwords"));
    assert_nothing_changed(&app).await;
}

#[test]
fn a_return_url_must_be_plain_http_on_the_configured_gateway_origin() {
    use crate::usermap::flow::return_origin;
    let gateway = Some("https://gateway.test");
    assert_eq!(
        return_origin(RETURN_URL, gateway).expect("ok"),
        "https://gateway.test"
    );
    assert_eq!(
        return_origin(RETURN_URL, None).expect("ok"),
        "https://gateway.test"
    );
    for bad in [
        "https://evil.example/connections/c1/complete",
        "https://gateway.test.evil.example/x",
        "http://gateway.test/connections/c1/complete",
        "https://user:pw@gateway.test/x",
        "https://gateway.test/x#frag",
        "/connections/c1/complete",
        "data:text/html,hi",
    ] {
        assert!(return_origin(bad, gateway).is_err(), "{bad}");
    }
}
