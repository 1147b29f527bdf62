//! Account merge (SPEC §8): everything of OLD moves to NEW — identities, connections, wallets
//! (balances added), project memberships — OLD is disabled and its password, sessions and API
//! tokens stop working, the provider's rename is queued (§4), and it is audited; a merge that
//! cannot be done is refused and changes nothing.

use crate::accounting::{balance, grant};
use crate::connections::{IMPLICIT, implicit_report};
use crate::oidc::test_idp::TestIdp;
use crate::oidc::{ada, bob, identities, link, me, sign_in, spawn};
use crate::on_both_backends;
use crate::support::{Backend, START_MS, TestApp};
use crate::upstream::Upstream;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct World {
    app: TestApp,
    idp: TestIdp,
    up: Upstream,
    root: String,
    /// The provider `dev`'s access token.
    provider: String,
}

/// The gateway with the test IdP and the implicit-mapping test provider `dev`, and an admin.
async fn world(backend: Backend) -> World {
    let (app, idp) = spawn(backend, true).await;
    let up = Upstream::start("dev", &app.url, START_MS / 1000, IMPLICIT).await;
    let root = app.user("root", true).await;
    let body = json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": up.port, "env": "test" });
    let (_, reg) = app.post(&root, "/api/providers", body).await;
    let (_, oauth) = app
        .oauth_refresh(reg["refreshToken"].as_str().unwrap())
        .await;
    let dev = app.app.registry.get_any("dev").await.unwrap();
    app.app.manifests.refresh(&dev).await.unwrap();
    let (status, _) = app.register(&root, "dev2", "test").await;
    assert_eq!(status, StatusCode::CREATED);
    World {
        app,
        idp,
        up,
        root,
        provider: oauth["access_token"].as_str().unwrap().to_owned(),
    }
}

impl World {
    /// `username` (an admin, so the test provider is visible) is brokered once and the provider
    /// reports its local account `local`.
    async fn connect(&self, token: &str, username: &str, local: &str) {
        let (status, _) = self.app.get(token, "/ucloud/dev/compute/docker/echo").await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = self
            .app
            .post(
                &self.provider,
                "/api/providers/usermap/dev",
                implicit_report(username, local),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn merge(&self, admin: &str, from: &str, into: &str) -> (StatusCode, Value) {
        self.app
            .post(
                admin,
                "/api/admin/users/merge",
                json!({ "from": from, "into": into }),
            )
            .await
    }

    async fn token_of(&self, username: &str) -> String {
        let user = self.app.app.accounts.user(username).await.unwrap();
        let (_, secret) = self
            .app
            .app
            .accounts
            .create_api_token(&user, "t")
            .await
            .unwrap();
        secret.expose().to_owned()
    }

    async fn audit_actions(&self) -> Vec<Value> {
        let (_, entries) = self.app.get(&self.root, "/api/admin/audit").await;
        entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "user.merged")
            .cloned()
            .collect()
    }
}

async fn a_merge_moves_everything_to_the_new_account_and_the_old_credentials_stop_working(
    backend: Backend,
) {
    let w = world(backend).await;
    let app = &w.app;
    // OLD: a password, a session, an API token, a linked identity (Bob's), a connection, two
    // wallets and a project it leads.
    let old_token = app.user("olduser", true).await;
    let old_session = app.session_cookie("olduser").await;
    let (status, ..) = link(app, &w.idp, &old_session, bob(), Some(&old_session)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    w.connect(&old_token, "olduser", "o1").await;
    grant(app, &w.root, json!({"username": "olduser"}), "dev", 100).await;
    grant(app, &w.root, json!({"username": "olduser"}), "dev2", 30).await;
    let (status, project) = app
        .post(&old_token, "/api/projects", json!({"title": "Old lab"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    // NEW: Ada, signed in through the IdP, with a wallet at dev.
    let new_session = sign_in(app, &w.idp, ada()).await.session.unwrap();
    let new_name = me(app, &new_session).await["username"]
        .as_str()
        .unwrap()
        .to_owned();
    grant(app, &w.root, json!({"username": new_name}), "dev", 50).await;

    let (status, merged) = w.merge(&w.root, "olduser", &new_name).await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["connections"], json!(["dev"]));
    assert_eq!(merged["wallets"], json!(["dev", "dev2"]));
    assert_eq!(merged["identities"], 1);
    assert_eq!(merged["sessionsRevoked"], 1);
    assert_eq!(merged["apiTokensRevoked"], 1);
    assert_eq!(merged["passwordRevoked"], true);

    // OLD's credentials are dead and the account is disabled.
    let (status, _) = app.get(&old_token, "/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the API token");
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", &old_session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the session");
    let r = app.sign_in_as("olduser", "olduser-password", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the password");
    let (_, state) = app.get(&w.root, "/api/admin/users/olduser").await;
    assert_eq!(state["state"], "disabled");

    // NEW has it all: both identities, the connection, the wallets added up, the project.
    let mut subjects: Vec<_> = identities(app, &new_session)
        .await
        .iter()
        .map(|i| i["subject"].as_str().unwrap().to_owned())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["ada-1", "bob-7"]);
    let bob_again = sign_in(app, &w.idp, bob()).await;
    assert_eq!(
        me(app, &bob_again.session.unwrap()).await["username"],
        new_name.as_str()
    );
    let new_token = w.token_of(&new_name).await;
    let owner = json!({"username": new_name});
    assert_eq!(balance(app, &new_token, &owner, "dev").await, Some(150));
    assert_eq!(balance(app, &new_token, &owner, "dev2").await, Some(30));
    let (_, connections) = app.get(&new_token, "/api/connections").await;
    assert_eq!(connections[0]["provider"], "dev");
    assert_eq!(connections[0]["localIdentity"], "o1");
    assert_eq!(connections[0]["state"], "ok");
    let (_, projects) = app.get(&new_token, "/api/projects").await;
    assert_eq!(projects[0]["title"], "Old lab");
    assert_eq!(projects[0]["role"], "PI");

    // The provider was told at once, with a service token made for NEW.
    assert_eq!(
        *w.up.renames.seen.lock().unwrap(),
        [(new_name.clone(), "olduser".to_owned(), new_name.clone())]
    );
    assert!(app.app.store.pending_renames().await.unwrap().is_empty());
    let audit = w.audit_actions().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor"], "root");
    assert_eq!(audit[0]["target"], "olduser");
    assert_eq!(audit[0]["detail"]["into"], new_name.as_str());
    assert_eq!(audit[0]["detail"]["connections"], json!(["dev"]));
    w.app.stop().await;
}
on_both_backends!(a_merge_moves_everything_to_the_new_account_and_the_old_credentials_stop_working);

async fn a_merge_of_two_accounts_connected_to_one_provider_is_refused_and_changes_nothing(
    backend: Backend,
) {
    let w = world(backend).await;
    let app = &w.app;
    let old_token = app.user("olduser", true).await;
    let new_token = app.user("newuser", true).await;
    w.connect(&old_token, "olduser", "o1").await;
    w.connect(&new_token, "newuser", "n1").await;
    grant(app, &w.root, json!({"username": "olduser"}), "dev", 100).await;

    let (status, problem) = w.merge(&w.root, "olduser", "newuser").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "mergeRefused");
    assert!(
        problem["detail"].as_str().unwrap().contains("dev"),
        "{problem}"
    );

    let (status, _) = app.get(&old_token, "/api/me").await;
    assert_eq!(status, StatusCode::OK, "OLD's token still works");
    let r = app.sign_in_as("olduser", "olduser-password", None).await;
    assert_eq!(r.status(), StatusCode::OK, "and its password");
    let (_, old_connections) = app.get(&old_token, "/api/connections").await;
    assert_eq!(old_connections[0]["localIdentity"], "o1");
    let (_, new_connections) = app.get(&new_token, "/api/connections").await;
    assert_eq!(new_connections.as_array().unwrap().len(), 1);
    let owner = json!({"username": "olduser"});
    assert_eq!(balance(app, &old_token, &owner, "dev").await, Some(100));
    let (_, state) = app.get(&w.root, "/api/admin/users/olduser").await;
    assert_eq!(state["state"], "active");
    assert!(app.app.store.pending_renames().await.unwrap().is_empty());
    assert!(
        w.audit_actions().await.is_empty(),
        "no audit row for a refused merge"
    );
    w.app.stop().await;
}
on_both_backends!(a_merge_of_two_accounts_connected_to_one_provider_is_refused_and_changes_nothing);

async fn impossible_merges_are_refused_with_a_problem(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let alice = app.user("alice", false).await;
    app.user("bobby", false).await;
    let cases = [
        (
            &w.root,
            "alice",
            "alice",
            StatusCode::CONFLICT,
            "mergeRefused",
        ),
        (
            &w.root,
            "alice",
            "nobody",
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            &w.root,
            "nobody",
            "alice",
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            &w.root,
            "root",
            "alice",
            StatusCode::CONFLICT,
            "mergeRefused",
        ),
        (&alice, "bobby", "alice", StatusCode::FORBIDDEN, "forbidden"),
    ];
    for (caller, from, into, status, code) in cases {
        let (got, problem) = w.merge(caller, from, into).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{from} → {into}: {problem}"
        );
    }
    let (status, _) = app
        .post(&w.root, "/api/admin/users/bobby/disable", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = w.merge(&w.root, "alice", "bobby").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("mergeRefused"))
    );
    let (status, problem) = w.merge(&w.root, "bobby", "alice").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("mergeRefused")),
        "a disabled account is not merged again"
    );
    let (status, problem) = app
        .post(&w.root, "/api/admin/users/merge", json!({"from": "alice"}))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidInput"))
    );
    let (status, _) = app.get(&alice, "/api/me").await;
    assert_eq!(status, StatusCode::OK, "nothing happened to alice");
    assert!(w.audit_actions().await.is_empty());
    w.app.stop().await;
}
on_both_backends!(impossible_merges_are_refused_with_a_problem);

async fn a_rename_the_provider_does_not_take_stays_queued_and_is_sent_again_later(
    backend: Backend,
) {
    let w = world(backend).await;
    let app = &w.app;
    let old_token = app.user("olduser", true).await;
    app.user("newuser", true).await;
    w.connect(&old_token, "olduser", "o1").await;
    w.up.renames
        .refusing
        .store(true, std::sync::atomic::Ordering::SeqCst);

    let (status, body) = w.merge(&w.root, "olduser", "newuser").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the merge is done whatever the provider says: {body}"
    );
    let owed = app.app.store.pending_renames().await.unwrap();
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].attempts, 1);
    let (_, state) = app.get(&w.root, "/api/admin/users/olduser").await;
    assert_eq!(
        state["state"], "disabled",
        "nothing of the merge waits for the provider"
    );

    // Not due again before its backoff, then delivered once the provider answers.
    w.up.renames
        .refusing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let done = app.app.connections.deliver_renames().await.unwrap();
    assert_eq!((done.delivered, done.failed), (0, 0), "backing off");
    app.clock.advance_secs(31);
    w.up.clock.advance(31);
    let done = app.app.connections.deliver_renames().await.unwrap();
    assert_eq!(done.failed, 0);
    // The serving gateway's own retry task may be the one that sent it.
    crate::support::wait_until(std::time::Duration::from_secs(10), || async {
        (!w.up.renames.seen.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        *w.up.renames.seen.lock().unwrap(),
        [(
            "newuser".to_owned(),
            "olduser".to_owned(),
            "newuser".to_owned()
        )]
    );
    crate::support::wait_until(std::time::Duration::from_secs(10), || async {
        app.app
            .store
            .pending_renames()
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    let done = app.app.connections.deliver_renames().await.unwrap();
    assert_eq!((done.delivered, done.failed), (0, 0), "sent once");
    w.app.stop().await;
}
on_both_backends!(a_rename_the_provider_does_not_take_stays_queued_and_is_sent_again_later);
