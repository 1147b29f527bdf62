//! Attacks on the confirm step (SPEC §4 step 3 ▲): nothing is linked without the user's explicit
//! click on the page that shows who is being linked, and that click's form carries its own CSRF
//! token, bound to the attempt — whatever way the browser signed in here.

use super::{DAN, assert_nothing_changed};
use crate::usermap::LocalIdentity;
use crate::usermap::tests::support::{CONFIRM_PATH, flow_app};

#[tokio::test]
async fn signing_in_records_nothing_until_the_confirm_form_is_posted() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    let page = app.sign_in(&cookie, &csrf, "alice").await;
    // Looking at the page, again, or a GET carrying the token, links nothing.
    app.confirm_page(Some(&cookie)).await;
    let get = app
        .browser
        .get(format!("{}{CONFIRM_PATH}?csrf={}", app.base, page.csrf()))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(get.status(), 200);
    assert_nothing_changed(&app).await;

    let done = app.confirm(Some(&cookie), &page.csrf()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        app.mapping_of(DAN).await.expect("mapped").account.name,
        "alice"
    );
}

#[tokio::test]
async fn the_confirm_form_takes_only_its_own_attempts_confirm_token() {
    let app = flow_app().await;
    let (attacker_cookie, attacker_login) = app.begin("nonce-attacker").await;
    let attacker_confirm = app
        .sign_in(&attacker_cookie, &attacker_login, "bob")
        .await
        .csrf();
    let (victim_cookie, victim_login) = app.begin("nonce-victim").await;
    let victim_confirm = app
        .sign_in(&victim_cookie, &victim_login, "alice")
        .await
        .csrf();
    assert_ne!(victim_confirm, victim_login, "a token of its own");
    for csrf in [attacker_confirm.as_str(), victim_login.as_str(), "", "x"] {
        let answer = app.confirm(Some(&victim_cookie), csrf).await;
        assert_eq!(answer.status, 403, "{csrf:?}: {}", answer.body);
        assert!(
            answer
                .body
                .contains("does not belong to your connection attempt")
        );
    }
    let no_field = app
        .browser
        .post(format!("{}{CONFIRM_PATH}", app.base))
        .header("cookie", &victim_cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(no_field.status(), 403);
    assert_nothing_changed(&app).await;
    let done = app.confirm(Some(&victim_cookie), &victim_confirm).await;
    assert_eq!(done.status, 303, "the victim's own click still works");
}

#[tokio::test]
async fn the_confirm_step_needs_a_local_sign_in_first() {
    let app = flow_app().await;
    let (cookie, login_csrf) = app.begin("nonce-1").await;
    let page = app.confirm_page(Some(&cookie)).await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("You have not signed in here yet"),
        "{}",
        page.body
    );
    assert_eq!(app.confirm(Some(&cookie), &login_csrf).await.status, 400);
    assert_nothing_changed(&app).await;
}

#[tokio::test]
async fn a_site_sign_in_that_proves_the_account_by_itself_still_waits_for_the_click() {
    // A site whose users are already signed in locally (SSO, a session of its own) proves the
    // account without any form: the flow still shows the confirm page and records nothing.
    let app = flow_app().await;
    let (cookie, _) = app.begin("nonce-1").await;
    let attempt_id = cookie.split_once('=').expect("name=value").1;
    let identity = LocalIdentity::new("alice").expect("a valid name");
    app.flow.prove(attempt_id, &identity).await.expect("proven");
    assert_nothing_changed(&app).await;
    let page = app.confirm_page(Some(&cookie)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"local-account\">alice<"));
    let done = app.confirm(Some(&cookie), &page.csrf()).await;
    assert_eq!(done.status, 303, "{}", done.body);
}
