//! The explicit flow over HTTP as a browser and the gateway drive it: token in, cookie bound,
//! local sign-in, report with the nonce, `303` back; and the gateway ending a connection.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::support::{RETURN_URL, flow_app, usermap_token};
use crate::auth::tests::kit;

const DAN: &str = "DanSebastianThrane#1234";

#[tokio::test]
async fn a_user_who_signs_in_is_mapped_reported_with_the_nonce_and_sent_back_to_the_gateway() {
    let app = flow_app().await;
    let started = app
        .start(&[("token", &usermap_token("nonce-1", |c| c))])
        .await;
    assert_eq!(started.status, 302);
    assert_eq!(
        started.location.as_deref(),
        Some("/ucloud/myprovider/usermap/login")
    );
    let set_cookie = started.set_cookie.clone().expect("a cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/ucloud/myprovider/usermap",
        "Max-Age=300",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("nonce-1"),
        "the cookie holds an attempt id, not the nonce"
    );

    let cookie = started.cookie();
    let page = app.login_page(Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Dan Sebastian Thrane (DanSebastianThrane#1234)"),
        "{}",
        page.body
    );
    let confirm = app.sign_in(&cookie, &page.csrf(), "alice").await;
    for shown in [
        "Dan Sebastian Thrane",
        "DanSebastianThrane#1234",
        "sdu.dk",
        "id=\"local-account\">alice<",
    ] {
        assert!(confirm.body.contains(shown), "{shown}: {}", confirm.body);
    }
    assert!(
        app.reports().is_empty() && app.mapping_of(DAN).await.is_none(),
        "nothing is recorded before the click"
    );
    let done = app.confirm(Some(&cookie), &confirm.csrf()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(&*format!("{RETURN_URL}?nonce=nonce-1&code=code-nonce-1")),
        "the gateway's completion code travels with the browser"
    );
    assert!(
        done.set_cookie
            .as_deref()
            .is_some_and(|c| c.contains("Max-Age=0"))
    );

    assert_eq!(
        app.reports(),
        [(
            Some("Bearer at-test".to_owned()),
            json!({"nonce": "nonce-1", "username": DAN, "localIdentity": "alice", "state": "ok",
                   "comment": null, "commentUrl": null})
        )]
    );
    let mapping = app.mapping_of(DAN).await.expect("mapped");
    assert_eq!(mapping.account.name, "alice");
    assert_eq!(
        (mapping.account.uid, mapping.account.home.as_str()),
        (20_000, "/home/alice")
    );
    assert!(mapping.reported_at.is_some());
}

#[tokio::test]
async fn the_nonce_is_appended_encoded_after_a_query_the_return_url_already_has() {
    let app = flow_app().await;
    let token = usermap_token("n/+&=1", |c| {
        kit::with(c, "returnUrl", json!(format!("{RETURN_URL}?lang=da")))
    });
    let started = app.start(&[("token", &token)]).await;
    let cookie = started.cookie();
    let csrf = app.login_page(Some(&cookie)).await.csrf();
    let done = app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    assert_eq!(
        done.location.as_deref(),
        Some(&*format!(
            "{RETURN_URL}?lang=da&nonce=n%2F%2B%26%3D1&code=code-n%2F%2B%26%3D1"
        ))
    );
}

#[tokio::test]
async fn wrong_credentials_get_one_generic_answer_and_leave_the_attempt_usable() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    let secret_guess = "hunter2-not-the-password";
    let wrong = app
        .submit(Some(&cookie), &csrf, "alice", secret_guess)
        .await;
    let unknown = app
        .submit(Some(&cookie), &csrf, "mallory", secret_guess)
        .await;
    let too_long = app
        .submit(Some(&cookie), &csrf, &"a".repeat(65), secret_guess)
        .await;
    for answer in [&wrong, &unknown, &too_long] {
        assert_eq!(answer.status, 401);
        assert!(
            answer.body.contains("Wrong username or password."),
            "{}",
            answer.body
        );
        assert!(!answer.body.contains(secret_guess));
    }
    assert!(app.reports().is_empty());
    let done = app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    assert_eq!(done.status, 303);
}

#[tokio::test]
async fn a_report_the_gateway_refuses_changes_nothing_and_the_user_can_try_again() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    let confirm_csrf = app.sign_in(&cookie, &csrf, "alice").await.csrf();
    app.gateway.failing.store(true, Ordering::SeqCst);
    let refused = app.confirm(Some(&cookie), &confirm_csrf).await;
    assert_eq!(refused.status, 502);
    assert!(app.mapping_of(DAN).await.is_none());
    app.gateway.failing.store(false, Ordering::SeqCst);
    let done = app.confirm(Some(&cookie), &confirm_csrf).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        app.mapping_of(DAN).await.expect("mapped").account.name,
        "alice"
    );
}

#[tokio::test]
async fn names_from_the_token_are_escaped_on_the_login_page() {
    let app = flow_app().await;
    let token = usermap_token("nonce-1", |mut c| {
        c["principal"]["firstName"] = json!("<script>alert(1)</script>");
        c["principal"]["username"] = json!("\"><img src=x>");
        c
    });
    let started = app.start(&[("token", &token)]).await;
    let page = app.login_page(Some(&started.cookie())).await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("<script>") && !page.body.contains("<img"),
        "{}",
        page.body
    );
    // Shown as text: the template engine writes `<` as an entity (`&lt;` or `&#60;`).
    assert!(
        page.body.contains("&lt;script&gt;alert(1)")
            || page.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_gateway_ends_a_connection_with_a_service_token_and_nothing_else_can() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    let url = format!("{}/ucloud/myprovider/usermap/unlink", app.base);
    let post = |bearer: Option<String>| {
        let mut request = app.browser.post(&url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let anonymous = post(None).await.expect("answer");
    assert_eq!(anonymous.status(), 401);
    let usermap_as_bearer = post(Some(usermap_token("nonce-2", |c| c)))
        .await
        .expect("answer");
    assert_eq!(
        usermap_as_bearer.status(),
        401,
        "a usermap token is not a service token"
    );
    assert!(app.mapping_of(DAN).await.is_some());

    let gateway = post(Some(kit::service_token("jti-unlink")))
        .await
        .expect("answer");
    assert_eq!(gateway.status(), 204);
    assert!(app.mapping_of(DAN).await.is_none());
    let again = post(Some(kit::service_token("jti-unlink-2")))
        .await
        .expect("answer");
    assert_eq!(
        again.status(),
        204,
        "ending an ended connection is not an error"
    );
}

#[tokio::test]
async fn a_service_call_without_a_principal_names_the_user_in_the_body() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    let claims = kit::with(kit::service_claims(), "principal", serde_json::Value::Null);
    let token = kit::gateway_key().sign(
        &kit::service_header(),
        &kit::with(claims, "jti", json!("j9")),
    );
    let url = format!("{}/ucloud/myprovider/usermap/unlink", app.base);
    let answer = app
        .browser
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"username": DAN}))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 204);
    assert!(app.mapping_of(DAN).await.is_none());
}
