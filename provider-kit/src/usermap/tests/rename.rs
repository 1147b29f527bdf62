//! `POST usermap/rename` (SPEC §4): after an account merge at the gateway, the local account
//! mapped to the old username is mapped to the new one; only the gateway's service token made for
//! the new user may ask, a retry finds it done, and a rename onto a mapped username changes nothing.

use serde_json::{Value, json};

use super::support::{FlowApp, flow_app, usermap_token};
use crate::auth::tests::kit;
use crate::protocol::{TYP_SERVICE, TYP_USERMAP};
use crate::usermap::{AutoAccount, GatewayRename};

const OLD: &str = "DanSebastianThrane#1234";
const NEW: &str = "DanThrane#0042";

/// A service token whose principal is `username`, with the header type `typ`.
fn token_for(username: &str, typ: &str, jti: &str) -> String {
    let mut claims = kit::with(kit::service_claims(), "jti", json!(jti));
    claims["principal"]["username"] = json!(username);
    kit::gateway_key().sign(&kit::header(typ, kit::gateway_key().kid), &claims)
}

async fn rename(app: &FlowApp, bearer: Option<&str>, body: Value) -> u16 {
    let url = format!("{}/ucloud/myprovider/usermap/rename", app.base);
    let mut request = app.browser.post(&url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("answer").status().as_u16()
}

async fn local_account_of(app: &FlowApp, username: &str) -> Option<String> {
    app.mapping_of(username).await.map(|m| m.account.name)
}

#[tokio::test]
async fn a_rename_keeps_the_local_account_and_maps_it_to_the_new_username_once_even_when_retried() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    assert_eq!(local_account_of(&app, OLD).await.as_deref(), Some("alice"));

    let body = json!({"from": OLD, "to": NEW});
    let first = rename(&app, Some(&token_for(NEW, TYP_SERVICE, "r1")), body.clone()).await;
    assert_eq!(first, 204);
    assert_eq!(local_account_of(&app, NEW).await.as_deref(), Some("alice"));
    assert_eq!(
        local_account_of(&app, OLD).await,
        None,
        "the old name maps nothing"
    );

    let retry = rename(&app, Some(&token_for(NEW, TYP_SERVICE, "r2")), body).await;
    assert_eq!(retry, 204, "a retried rename is not an error");
    assert_eq!(local_account_of(&app, NEW).await.as_deref(), Some("alice"));
    assert_eq!(
        app.flow
            .accounts()
            .store()
            .mappings()
            .await
            .expect("mappings")
            .len(),
        1
    );
}

#[tokio::test]
async fn only_a_service_token_made_for_the_new_user_may_rename_and_a_refusal_changes_nothing() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    let body = json!({"from": OLD, "to": NEW});

    assert_eq!(rename(&app, None, body.clone()).await, 401, "no token");
    let usermap = usermap_token("nonce-9", |mut c| {
        c["principal"]["username"] = json!(NEW);
        c
    });
    assert_eq!(
        rename(&app, Some(&usermap), body.clone()).await,
        401,
        "a usermap token"
    );
    let wrong_typ = token_for(NEW, TYP_USERMAP, "r3");
    assert_eq!(
        rename(&app, Some(&wrong_typ), body.clone()).await,
        401,
        "typ usermap"
    );
    let mut other_aud = kit::with(kit::service_claims(), "aud", json!("otherprovider"));
    other_aud["principal"]["username"] = json!(NEW);
    let other_aud = kit::gateway_key().sign(&kit::service_header(), &other_aud);
    assert_eq!(
        rename(&app, Some(&other_aud), body.clone()).await,
        401,
        "another audience"
    );
    let forged = kit::attacker_key().sign(
        &kit::header(TYP_SERVICE, kit::attacker_key().kid),
        &kit::with(kit::service_claims(), "jti", json!("r4")),
    );
    assert_eq!(
        rename(&app, Some(&forged), body.clone()).await,
        401,
        "another key"
    );
    let for_old = token_for(OLD, TYP_SERVICE, "r5");
    assert_eq!(
        rename(&app, Some(&for_old), body.clone()).await,
        400,
        "the principal is not `to`"
    );
    let token = token_for(NEW, TYP_SERVICE, "r6");
    for bad in [
        json!({"from": OLD}),
        json!({"from": OLD, "to": NEW, "extra": 1}),
        json!({"from": NEW, "to": NEW}),
        json!({"from": "", "to": NEW}),
    ] {
        assert_eq!(rename(&app, Some(&token), bad.clone()).await, 400, "{bad}");
    }

    assert_eq!(local_account_of(&app, OLD).await.as_deref(), Some("alice"));
    assert_eq!(local_account_of(&app, NEW).await, None);
}

#[tokio::test]
async fn a_rename_onto_a_username_that_is_mapped_too_is_refused_and_changes_nothing() {
    let app = flow_app().await;
    let (cookie, csrf) = app.begin("nonce-1").await;
    app.sign_in_and_confirm(&cookie, &csrf, "alice").await;
    let token = usermap_token("nonce-2", |mut c| {
        c["principal"]["username"] = json!(NEW);
        c
    });
    let started = app.start(&[("token", &token)]).await;
    let cookie = started.cookie();
    let page = app.login_page(Some(&cookie)).await;
    app.sign_in_and_confirm(&cookie, &page.csrf(), "bob").await;
    assert_eq!(local_account_of(&app, NEW).await.as_deref(), Some("bob"));

    let answer = rename(
        &app,
        Some(&token_for(NEW, TYP_SERVICE, "r7")),
        json!({"from": OLD, "to": NEW}),
    )
    .await;
    assert_eq!(answer, 409);
    assert_eq!(local_account_of(&app, OLD).await.as_deref(), Some("alice"));
    assert_eq!(local_account_of(&app, NEW).await.as_deref(), Some("bob"));
}

#[tokio::test]
async fn an_automatic_account_made_for_the_old_username_comes_back_to_the_new_one() {
    let fixture = super::support::accounts(crate::usermap::AccountsConfig::default()).await;
    let old = super::support::principal("dan", "Dan", "Thrane", "dan@example.com");
    let AutoAccount::Created(made) = fixture.accounts.ensure_for(&old).await.expect("account")
    else {
        panic!("not created");
    };
    let outcome = fixture
        .accounts
        .rename_user("dan", "dthrane")
        .await
        .expect("rename");
    assert_eq!(outcome, GatewayRename::Renamed);
    assert!(fixture.accounts.unlink("dthrane").await.expect("unlink"));
    let new = super::support::principal("dthrane", "Dan", "Thrane", "dan@example.com");
    let (AutoAccount::Existing(again) | AutoAccount::Created(again)) =
        fixture.accounts.ensure_for(&new).await.expect("account")
    else {
        panic!("no account");
    };
    assert_eq!(
        again.account.name, made.account.name,
        "the same local account"
    );
    assert_eq!(again.account.uid, made.account.uid);
}
