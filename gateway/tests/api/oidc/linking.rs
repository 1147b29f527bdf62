//! Linked identities (SPEC §8): a second identity links only when the user signs in at the IdP in
//! the session that asked; either identity then reaches the account and the principal follows the
//! one used last; an identity of another account is refused; unlinking never removes the last way in.

use super::{ada, ada_elsewhere, as_browser, bob, identities, link, me, sign_in, spawn};
use crate::on_both_backends;
use crate::support::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn a_second_identity_links_in_the_same_session_and_either_reaches_the_account(
    backend: Backend,
) {
    let (app, idp) = spawn(backend, true).await;
    let session = sign_in(&app, &idp, ada()).await.session.expect("signed in");
    let username = me(&app, &session).await["username"].clone();
    let listed = identities(&app, &session).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["identityProvider"], "test");
    assert_eq!(listed[0]["subject"], "ada-1");
    assert_eq!(listed[0]["email"], "ada@uni-a.example");
    assert!(listed[0]["linkedAt"].as_str().unwrap().ends_with('Z'));

    let (status, location, new_session, body) =
        link(&app, &idp, &session, ada_elsewhere(), Some(&session)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location.as_deref(), Some("/account/identities"));
    assert!(new_session.is_none(), "linking opens no other session");
    let listed = identities(&app, &session).await;
    let mut subjects: Vec<_> = listed.iter().map(|i| i["subject"].to_string()).collect();
    subjects.sort();
    assert_eq!(subjects, ["\"ada-1\"", "\"ada-2\""]);

    // The principal follows the identity used last; what it does not release is null.
    let p = me(&app, &session).await;
    assert_eq!(p["email"], "ada@uni-c.example");
    assert_eq!(p["organization"], Value::Null);
    assert_eq!(p["siteUsername"], Value::Null);
    assert_eq!(p["twoFactorAuthentication"], false);

    let second = sign_in(&app, &idp, ada_elsewhere()).await;
    let p = me(&app, &second.session.expect("signed in")).await;
    assert_eq!(
        p["username"], username,
        "the linked identity reaches the account"
    );
    let first = sign_in(&app, &idp, ada()).await;
    let p = me(&app, &first.session.expect("signed in")).await;
    assert_eq!(p["username"], username);
    assert_eq!(p["organization"], "uni-a.example");
    assert_eq!(p["twoFactorAuthentication"], true);
    app.stop().await;
}
on_both_backends!(a_second_identity_links_in_the_same_session_and_either_reaches_the_account);

async fn a_link_finished_in_another_session_or_without_one_links_nothing(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    let first = sign_in(&app, &idp, ada()).await.session.expect("signed in");
    let other = sign_in(&app, &idp, ada()).await.session.expect("signed in");

    let (status, _, session, body) = link(&app, &idp, &first, ada_elsewhere(), Some(&other)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(session.is_none());
    assert!(body.contains("not valid any more"), "{body}");
    let (status, _, session, _) = link(&app, &idp, &first, ada_elsewhere(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(session.is_none(), "nobody is signed in");
    assert_eq!(
        identities(&app, &first).await.len(),
        1,
        "nothing was linked"
    );
    // An attacker who hands their link attempt to a victim gains nothing: the victim comes back
    // with their own session, which is not the one that asked.
    let victim = sign_in(&app, &idp, bob()).await.session.expect("bob");
    let (status, _, session, _) = link(&app, &idp, &first, bob(), Some(&victim)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(session.is_none());
    assert_eq!(
        identities(&app, &first).await.len(),
        1,
        "bob's identity is not the attacker's"
    );
    assert_eq!(identities(&app, &victim).await.len(), 1);
    // The unlinked identity is still a stranger: it gets an account of its own.
    let stranger = sign_in(&app, &idp, ada_elsewhere()).await;
    let p = me(&app, &stranger.session.expect("signed in")).await;
    assert_ne!(p["username"], me(&app, &first).await["username"]);

    // An API token has no browser session to bind the attempt to.
    let token = app.user("alice", false).await;
    let (status, problem) = app
        .post(
            &token,
            "/api/me/identities",
            json!({"identityProvider": "test"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "sessionRequired");
    let (status, problem) = as_browser(
        &app,
        Method::POST,
        "/api/me/identities",
        &first,
        Some(json!({"identityProvider": "nope"})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("notFound"))
    );
    app.stop().await;
}
on_both_backends!(a_link_finished_in_another_session_or_without_one_links_nothing);

async fn an_identity_of_another_account_is_refused_and_nothing_changes(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    let bob_session = sign_in(&app, &idp, bob()).await.session.expect("bob");
    let bob_name = me(&app, &bob_session).await["username"].clone();
    let ada_session = sign_in(&app, &idp, ada()).await.session.expect("ada");
    let ada_before = me(&app, &ada_session).await;

    let (status, _, session, body) =
        link(&app, &idp, &ada_session, bob(), Some(&ada_session)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("already linked to another account"), "{body}");
    assert!(session.is_none());
    assert_eq!(identities(&app, &ada_session).await.len(), 1);
    assert_eq!(
        me(&app, &ada_session).await,
        ada_before,
        "the principal is unchanged"
    );
    let again = sign_in(&app, &idp, bob()).await;
    assert_eq!(
        me(&app, &again.session.unwrap()).await["username"],
        bob_name
    );
    app.stop().await;
}
on_both_backends!(an_identity_of_another_account_is_refused_and_nothing_changes);

async fn unlinking_never_removes_the_last_way_in(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    let session = sign_in(&app, &idp, ada()).await.session.expect("signed in");
    let (status, ..) = link(&app, &idp, &session, ada_elsewhere(), Some(&session)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let listed = identities(&app, &session).await;
    let delete = |id: &Value| format!("/api/me/identities/{}", id.as_str().unwrap());
    let by_subject = |s: &str| listed.iter().find(|i| i["subject"] == s).unwrap()["id"].clone();
    let (second, first) = (by_subject("ada-2"), by_subject("ada-1"));

    let (status, _) = as_browser(&app, Method::DELETE, &delete(&second), &session, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = as_browser(&app, Method::DELETE, &delete(&first), &session, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "lastWayIn");
    assert_eq!(identities(&app, &session).await.len(), 1);
    let back = sign_in(&app, &idp, ada()).await;
    assert_eq!(
        me(&app, &back.session.unwrap()).await["username"],
        me(&app, &session).await["username"],
        "the kept identity still signs in"
    );

    // Someone else's identity is not found, and nothing goes.
    let bob_session = sign_in(&app, &idp, bob()).await.session.unwrap();
    let (status, _) = as_browser(&app, Method::DELETE, &delete(&first), &bob_session, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(identities(&app, &session).await.len(), 1);

    // A password is a way in: its account may unlink its only identity.
    app.user("alice", false).await;
    let alice = app.session_cookie("alice").await;
    let (status, ..) = link(&app, &idp, &alice, ada_elsewhere(), Some(&alice)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let only = identities(&app, &alice).await;
    assert_eq!(only.len(), 1);
    let (status, _) = as_browser(&app, Method::DELETE, &delete(&only[0]["id"]), &alice, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(identities(&app, &alice).await.is_empty());
    app.stop().await;
}
on_both_backends!(unlinking_never_removes_the_last_way_in);

/// The CSRF field of a page's forms.
fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let end = page[start..].find('"').unwrap();
    page[start..start + end].to_owned()
}

async fn the_identities_page_links_another_and_unlinks_after_a_confirmation(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    let session = sign_in(&app, &idp, ada()).await.session.expect("signed in");
    let browser = super::no_redirects();
    let get = |path: &str| browser.get(app.url(path)).header("cookie", &session).send();
    let text = |path: String| {
        let r = get(&path);
        async move { r.await.unwrap().text().await.unwrap() }
    };
    let r = get("/account/identities").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = r.text().await.unwrap();
    assert!(
        page.contains("ada-1") && page.contains("your only way to sign in"),
        "{page}"
    );
    assert!(
        !page.contains("Unlink…"),
        "the last way in has no unlink button"
    );
    assert!(
        page.contains("href=\"/account/identities\">Identities</a>"),
        "in the nav"
    );
    let issuer = url::Url::parse(&idp.config("test", &std::env::temp_dir()).issuer).unwrap();
    assert!(
        csp.contains(&issuer.origin().ascii_serialization()),
        "{csp}"
    );
    let csrf = csrf_of(&page);

    let post = |path: &str, form: Vec<(&'static str, String)>| {
        browser
            .post(app.url(path))
            .header("cookie", &session)
            .header("origin", &app.url)
            .form(&form)
            .send()
    };
    let r = post(
        "/account/identities/link",
        vec![("csrf", "forged".into()), ("idp", "test".into())],
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a forged form starts nothing"
    );
    let r = post(
        "/account/identities/link",
        vec![("csrf", csrf.clone()), ("idp", "test".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to_idp = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to_idp.starts_with(issuer.as_str().trim_end_matches('/')),
        "{to_idp}"
    );
    idp.sign_in_next(ada_elsewhere());
    let r = browser.get(&to_idp).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let (status, location, ..) = super::arrive(&callback, Some(&session)).await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/account/identities"))
    );

    let page = text("/account/identities".into()).await;
    assert!(
        page.contains("ada-2") && page.matches("Unlink…").count() == 2,
        "{page}"
    );
    let listed = identities(&app, &session).await;
    let second = listed.iter().find(|i| i["subject"] == "ada-2").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirm = text(format!("/account/identities/{second}/unlink")).await;
    assert!(
        confirm.contains("id=\"confirm-unlink\"") && confirm.contains("ada-2"),
        "{confirm}"
    );
    let unlink = format!("/account/identities/{second}/unlink");
    let r = post(&unlink, vec![("csrf", "forged".into())])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        identities(&app, &session).await.len(),
        2,
        "a forged form unlinks nothing"
    );
    let r = post(&unlink, vec![("csrf", csrf.clone())]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(identities(&app, &session).await.len(), 1);
    let last = identities(&app, &session).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post(
        &format!("/account/identities/{last}/unlink"),
        vec![("csrf", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "the last way in stays");
    assert!(r.text().await.unwrap().contains("last way to sign in"));
    assert_eq!(identities(&app, &session).await.len(), 1);
    app.stop().await;
}
on_both_backends!(the_identities_page_links_another_and_unlinks_after_a_confirmation);
