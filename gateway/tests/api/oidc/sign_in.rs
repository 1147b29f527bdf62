//! Sign-in through an IdP: the account, its principal, approval, the sign-in page.

use super::{ada, bob, me, sign_in, spawn};
use crate::on_both_backends;
use crate::support::Backend;
use reqwest::StatusCode;
use serde_json::json;

async fn a_first_sign_in_creates_the_account_with_the_mapped_principal_and_the_next_reaches_it(
    backend: Backend,
) {
    let (app, idp) = spawn(backend, true).await;
    let first = sign_in(&app, &idp, ada()).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert_eq!(first.location.as_deref(), Some("/connections"));
    let session = first.session.expect("signed in");
    let p = me(&app, &session).await;
    let username = p["username"].as_str().unwrap().to_owned();
    assert!(username.starts_with("AdaLovelace#"), "{username}");
    assert_eq!(username.len(), "AdaLovelace#".len() + 4);
    assert_eq!(p["firstName"], "Ada");
    assert_eq!(p["lastName"], "Lovelace");
    assert_eq!(p["email"], "ada@uni-a.example");
    assert_eq!(p["organization"], "uni-a.example");
    assert_eq!(
        p["assurance"],
        json!(["https://refeds.org/assurance/IAP/medium"])
    );
    assert_eq!(p["twoFactorAuthentication"], true);
    assert_eq!(p["identityProvider"], "test");
    assert_eq!(p["siteUsername"], "alovelace");

    // The next sign-in: the same account, the claims as the IdP gives them now.
    let mut again = ada();
    again.id_token = json!({"sub": "ada-1", "amr": ["pwd"]});
    again.userinfo["schac_home_organization"] = json!("uni-b.example");
    again.userinfo.as_object_mut().unwrap().remove("uid");
    let second = sign_in(&app, &idp, again).await;
    let p = me(&app, &second.session.expect("signed in again")).await;
    assert_eq!(p["username"], username.as_str());
    assert_eq!(p["organization"], "uni-b.example");
    assert_eq!(p["twoFactorAuthentication"], false);
    assert_eq!(p["siteUsername"], serde_json::Value::Null);

    // Another identity is another account, however alike the names.
    let other = sign_in(&app, &idp, bob()).await;
    let p = me(&app, &other.session.unwrap()).await;
    assert!(
        p["username"].as_str().unwrap().starts_with("BobOrsted#"),
        "{p}"
    );
    assert_eq!(p["twoFactorAuthentication"], false);
    assert_eq!(p["assurance"], json!([]));
    // The gateway authenticated with client_secret_basic, as configured.
    assert!(idp.token_auth_seen().iter().all(|a| a == "basic"));
    app.stop().await;
}
on_both_backends!(
    a_first_sign_in_creates_the_account_with_the_mapped_principal_and_the_next_reaches_it
);

async fn local_accounts_carry_no_assurance_and_no_identity_provider(backend: Backend) {
    let (app, _idp) = spawn(backend, true).await;
    let token = app.user("alice", false).await;
    let (status, body) = app.get(&token, "/api/me").await;
    assert_eq!(status, StatusCode::OK);
    let p = &body["principal"];
    assert_eq!(p["assurance"], json!([]));
    assert_eq!(p["identityProvider"], serde_json::Value::Null);
    assert_eq!(p["siteUsername"], serde_json::Value::Null);
    app.stop().await;
}
on_both_backends!(local_accounts_carry_no_assurance_and_no_identity_provider);

async fn a_new_identity_waits_for_approval_and_signs_in_once_an_admin_approves(backend: Backend) {
    let (app, idp) = spawn(backend, false).await;
    let pending = sign_in(&app, &idp, bob()).await;
    assert_eq!(pending.status, StatusCode::FORBIDDEN);
    assert!(pending.session.is_none(), "nobody is signed in");
    assert!(pending.body.contains("awaits approval"), "{}", pending.body);
    let waiting = app.app.accounts.pending().await.unwrap();
    assert_eq!(waiting.len(), 1);
    let username = waiting[0].username.clone();

    // Signing in again does not help, and creates no second account.
    let again = sign_in(&app, &idp, bob()).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(app.app.accounts.pending().await.unwrap().len(), 1);

    // Only an admin approves.
    let admin = app.user("root", true).await;
    let user = app.user("carol", false).await;
    let path = format!("/api/admin/users/{}/approve", username.replace('#', "%23"));
    let (status, _) = app.post(&user, &path, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.post(&admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.post(&admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "approving twice: {body}");

    let approved = sign_in(&app, &idp, bob()).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let p = me(&app, &approved.session.unwrap()).await;
    assert_eq!(p["username"], username.as_str());
    app.stop().await;
}
on_both_backends!(a_new_identity_waits_for_approval_and_signs_in_once_an_admin_approves);

async fn es256_tokens_and_a_rotated_key_are_accepted(backend: Backend) {
    let (app, idp) = spawn(backend, true).await;
    idp.set_alg(jsonwebtoken::Algorithm::ES256);
    let first = sign_in(&app, &idp, ada()).await;
    assert!(first.session.is_some(), "{}", first.body);
    // A new key the gateway has not seen: it fetches the JWK Set again (at most every 10 s).
    idp.set_alg(jsonwebtoken::Algorithm::RS256);
    idp.rotate_rsa_key("rsa-2");
    app.clock.advance_secs(10);
    let second = sign_in(&app, &idp, ada()).await;
    assert!(second.session.is_some(), "{}", second.body);
    app.stop().await;
}
on_both_backends!(es256_tokens_and_a_rotated_key_are_accepted);

async fn the_login_page_offers_each_identity_provider_by_name(backend: Backend) {
    let (app, _idp) = spawn(backend, true).await;
    let page = app
        .http
        .get(app.url("/login?next=/wallets"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with Test University"), "{page}");
    assert!(
        page.contains("/auth/oidc/test/start?next=%2Fwallets"),
        "{page}"
    );
    app.stop().await;
}
on_both_backends!(the_login_page_offers_each_identity_provider_by_name);

async fn an_unreachable_identity_provider_is_named_on_a_page_with_a_way_back(backend: Backend) {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = crate::support::TestApp::spawn_with(backend, |c| {
        c.identity_providers = vec![serde_yaml::from_str(&format!(
            "{{id: down, display_name: Down University, issuer: 'http://127.0.0.1:{port}', client_id: gw}}"
        ))
        .unwrap()];
    })
    .await;
    let r = super::no_redirects()
        .get(app.url("/auth/oidc/down/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Down University cannot be used right now"),
        "{page}"
    );
    assert!(page.contains("href=\"/login\""), "{page}");
    let r = super::no_redirects()
        .get(app.url("/auth/oidc/nosuch/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
on_both_backends!(an_unreachable_identity_provider_is_named_on_a_page_with_a_way_back);

fn identity(subject: &str) -> gateway::model::VerifiedIdentity {
    gateway::model::VerifiedIdentity {
        idp_id: "test".into(),
        issuer: "https://idp.example".into(),
        subject: subject.into(),
        email: None,
        email_verified: false,
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        organization: None,
        assurance: Vec::new(),
        two_factor: false,
        site_username: None,
    }
}

async fn usernames_stay_unique_and_one_identity_gets_one_account_under_concurrent_first_sign_ins(
    backend: Backend,
) {
    use gateway::accounts::FederatedOutcome;
    let (app, _idp) = spawn(backend, true).await;
    let accounts = app.app.accounts.clone();
    let username = |o: FederatedOutcome| match o {
        FederatedOutcome::SignedIn(u, _) | FederatedOutcome::PendingApproval(u) => u.username,
    };
    // Forty people with the same name at once: forty accounts, forty names.
    let people = (0..40).map(|i| {
        let accounts = accounts.clone();
        tokio::spawn(async move {
            accounts
                .sign_in_federated(&identity(&format!("p{i}")), true)
                .await
        })
    });
    let mut names = Vec::new();
    for p in people {
        names.push(username(p.await.unwrap().unwrap()));
    }
    let distinct: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(distinct.len(), 40, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("AdaLovelace#")));
    // One person signing in from ten tabs at once: one account.
    let tabs = (0..10).map(|_| {
        let accounts = accounts.clone();
        tokio::spawn(async move { accounts.sign_in_federated(&identity("same"), true).await })
    });
    let mut names = std::collections::HashSet::new();
    for t in tabs {
        names.insert(username(t.await.unwrap().unwrap()));
    }
    assert_eq!(names.len(), 1, "{names:?}");
    app.stop().await;
}
on_both_backends!(
    usernames_stay_unique_and_one_identity_gets_one_account_under_concurrent_first_sign_ins
);

async fn client_secret_post_is_used_when_configured(backend: Backend) {
    let idp = super::test_idp::TestIdp::start(crate::support::START_MS / 1000).await;
    let dir = std::env::temp_dir().join(format!("gw-oidc-{}", gateway::secrets::random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = idp.config("test", &dir);
    config.token_auth = gateway::oidc::TokenAuth::ClientSecretPost;
    let app = crate::support::TestApp::spawn_with(backend, |c| {
        c.identity_providers = vec![config];
        c.accounts.auto_activate = true;
    })
    .await;
    let o = sign_in(&app, &idp, ada()).await;
    assert!(o.session.is_some(), "{}", o.body);
    assert_eq!(idp.token_auth_seen(), ["post"]);
    app.stop().await;
}
on_both_backends!(client_secret_post_is_used_when_configured);

async fn an_invited_email_is_linked_only_when_the_identity_provider_verified_it(backend: Backend) {
    let (app, idp) = spawn(backend, false).await;
    let invited = app
        .app
        .accounts
        .invite("Ada@Uni-A.example", false)
        .await
        .unwrap();
    assert!(invited.username.starts_with("Ada#"), "{}", invited.username);
    let bob_invited = app
        .app
        .accounts
        .invite("bob@uni-b.example", false)
        .await
        .unwrap();

    // Bob's IdP does not vouch for his email: a new account (pending), the invitation stays.
    let bob = sign_in(&app, &idp, bob()).await;
    assert_eq!(bob.status, StatusCode::FORBIDDEN, "{}", bob.body);
    let pending = app.app.accounts.pending().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_ne!(pending[0].username, bob_invited.username);

    // Ada's does: she signs into the invited account at once (it needs no approval).
    let ada_in = sign_in(&app, &idp, ada()).await;
    assert_eq!(ada_in.status, StatusCode::SEE_OTHER, "{}", ada_in.body);
    let p = me(&app, &ada_in.session.unwrap()).await;
    assert_eq!(p["username"], invited.username.as_str());
    assert_eq!(p["firstName"], "Ada");
    assert_eq!(p["organization"], "uni-a.example");

    // The invitation is used up: another identity with the same verified email gets its own account.
    let mut twin = ada();
    twin.id_token["sub"] = json!("ada-2");
    let twin_in = sign_in(&app, &idp, twin).await;
    assert_eq!(
        twin_in.status,
        StatusCode::FORBIDDEN,
        "a new account, pending"
    );
    app.stop().await;
}
on_both_backends!(an_invited_email_is_linked_only_when_the_identity_provider_verified_it);
