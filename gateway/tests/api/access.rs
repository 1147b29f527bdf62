//! Access policy (SPEC §9): the gateway's agreements, a provider's terms in the connect flow,
//! two-factor and assurance at connect and at brokering, `pendingApproval` and `invalid` accounts,
//! and `GET /api/providers/{id}/access` saying the same as the broker. The helpers are shared
//! with `access_table`.

use crate::support::{Backend, START_MS, TestApp, read, wait_until};
use crate::upstream::Upstream;
use gateway::audit::Actor;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

pub const MEDIUM: &str = "https://refeds.org/assurance/IAP/medium";

/// Explicit mapping and terms of use.
pub const WITH_TERMS: &str = "users:\n  requireExplicitMapping: true\n  terms: { version: \"t1\", title: \"HPC acceptable use\", url: \"https://hpc.example.org/aup\" }\nfeatures:\n  compute:\n    docker: { enabled: true }\n";
/// Implicit mapping, two factors and medium assurance.
pub const STRICT: &str = "users:\n  requireTwoFactor: true\n  requireAssurance: [\"https://refeds.org/assurance/IAP/medium\"]\nfeatures:\n  compute:\n    docker: { enabled: true }\n";

/// The gateway's agreements for a test: `(id, version)`, each with a text file.
pub fn agreements(versions: &[(&str, &str)]) -> Vec<gateway::policy::AgreementConfig> {
    let dir = std::env::temp_dir().join(format!("gw-agreements-{}", gateway::secrets::random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    versions
        .iter()
        .map(|(id, version)| {
            let file = dir.join(format!("{id}.txt"));
            std::fs::write(&file, format!("The text of {id}, version {version}.")).unwrap();
            gateway::policy::AgreementConfig {
                id: (*id).to_owned(),
                version: (*version).to_owned(),
                title: format!("Agreement {id}"),
                file,
            }
        })
        .collect()
}

pub struct Access {
    pub app: TestApp,
    /// Kept serving for the test.
    pub _up: Upstream,
    /// The provider's owner (it is a test provider: visible to them), a personal API token.
    pub owner: String,
}

/// A gateway with `agreements` and one test provider `dev` serving `manifest`, owned by `owner`.
pub async fn access_world(
    backend: Backend,
    manifest: &'static str,
    agreements: Vec<gateway::policy::AgreementConfig>,
) -> Access {
    let app = TestApp::spawn_with(backend, |c| c.agreements = agreements).await;
    let up = Upstream::start("dev", &app.url, START_MS / 1000, manifest).await;
    let owner = app.user("owner", false).await;
    let user = app.app.accounts.user("owner").await.unwrap();
    let metadata = serde_json::from_value(json!({ "id": "dev", "domain": "127.0.0.1",
        "https": false, "port": up.port, "env": "test" }))
    .unwrap();
    app.app.registry.register(&user, metadata).await.unwrap();
    let provider = app.app.registry.get_any("dev").await.unwrap();
    app.app.manifests.refresh(&provider).await.unwrap();
    Access {
        app,
        _up: up,
        owner,
    }
}

/// A brokered GET with `token`: status and body.
pub async fn brokered(app: &TestApp, token: &str) -> (StatusCode, Value) {
    app.get(token, "/ucloud/dev/compute/docker/echo").await
}

pub async fn access(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.get(token, "/api/providers/dev/access").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The check named `name` of an `/access` answer.
pub fn check<'a>(access: &'a Value, name: &str) -> &'a Value {
    access["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {access}"))
}

pub async fn accept(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post(token, "/api/me/agreements", body).await
}

/// Runs `statement` on the test's database from another connection (as an operator's tool
/// would), so the change reaches the gateway through the change feed.
pub async fn sql(app: &TestApp, statement: &str) {
    let url = app.app.config.database_url();
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if url.starts_with("sqlite:") {
        let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
    } else {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
    }
}

/// Waits until `GET path` with `token` answers `status`; returns the body.
pub async fn answers(app: &TestApp, token: &str, path: &str, status: StatusCode) -> Value {
    wait_until(Duration::from_secs(2), || async {
        let (s, body) = app.get(token, path).await;
        (s == status).then_some(body)
    })
    .await
}

async fn agreements_are_asked_for_on_every_call_until_accepted_and_again_for_a_new_version(
    backend: Backend,
) {
    let w = access_world(
        backend,
        crate::upstream::MANIFEST,
        agreements(&[("aup", "1")]),
    )
    .await;
    let app = &w.app;

    let (status, problem) = app.get(&w.owner, "/api/wallets").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "agreementRequired");
    assert_eq!(problem["agreementsUrl"], app.url("/agreements"));
    assert_eq!(
        problem["agreements"],
        json!([{ "agreement": "aup", "version": "1", "title": "Agreement aup" }])
    );
    let (status, problem) = brokered(app, &w.owner).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("agreementRequired"))
    );
    // What a user needs to find the way out stays open.
    assert_eq!(app.get(&w.owner, "/api/me").await.0, StatusCode::OK);
    assert_eq!(app.get(&w.owner, "/api/me/agreements").await.1, json!([]));
    let explained = access(app, &w.owner).await;
    assert_eq!(explained["allowed"], false);
    let agreed = check(&explained, "agreements");
    assert_eq!(agreed["ok"], false);
    assert_eq!(agreed["action"]["url"], app.url("/agreements"));

    let (status, problem) =
        accept(app, &w.owner, json!({ "agreement": "aup", "version": "0" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("\"1\""),
        "names the current version: {problem}"
    );
    let (status, _) = accept(
        app,
        &w.owner,
        json!({ "agreement": "nope", "version": "1" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = accept(app, &w.owner, json!({ "version": "1" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, accepted) =
        accept(app, &w.owner, json!({ "agreement": "aup", "version": "1" })).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(app.get(&w.owner, "/api/wallets").await.0, StatusCode::OK);
    assert_eq!(brokered(app, &w.owner).await.0, StatusCode::OK);
    assert_eq!(access(app, &w.owner).await["allowed"], true);
    let mine = app.get(&w.owner, "/api/me/agreements").await.1;
    assert_eq!(mine[0]["agreement"], "aup");
    assert_eq!(mine[0]["version"], "1");
    assert!(mine[0]["acceptedAt"].is_string());
    let audit = app.app.audit.list(10, None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.event.action == "agreement.accepted" && e.event.target == "gateway:aup"),
        "audited"
    );

    // The admin's view: who accepted what (the admin accepts first, like everyone).
    let admin = app.user("root", true).await;
    assert_eq!(
        app.get(&admin, "/api/admin/agreements").await.0,
        StatusCode::FORBIDDEN
    );
    accept(app, &admin, json!({ "agreement": "aup", "version": "1" })).await;
    let all = app.get(&admin, "/api/admin/agreements").await.1;
    let owners: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["username"] == "owner")
        .collect();
    assert_eq!(owners.len(), 1, "{all}");
    assert_eq!(owners[0]["agreement"], "aup");
    assert_eq!(
        app.get(&w.owner, "/api/admin/agreements").await.0,
        StatusCode::FORBIDDEN,
        "admins only"
    );

    // A new version asks again.
    let app = w
        .app
        .restart_with(|c| c.agreements = agreements(&[("aup", "2")]))
        .await;
    let (status, problem) = app.get(&w.owner, "/api/wallets").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["agreements"][0]["version"], "2");
    let (status, _) = accept(
        &app,
        &w.owner,
        json!({ "agreement": "aup", "version": "2" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.get(&w.owner, "/api/wallets").await.0, StatusCode::OK);
    assert_eq!(
        app.get(&w.owner, "/api/me/agreements")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.stop().await;
}
crate::on_both_backends!(
    agreements_first_and_new_version,
    agreements_are_asked_for_on_every_call_until_accepted_and_again_for_a_new_version
);

/// `POST /api/connections` as the browser with `cookie`.
async fn connect(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    read(
        app.http
            .post(app.url("/api/connections"))
            .header("cookie", cookie)
            .header("origin", &app.url)
            .json(&json!({ "provider": "dev" }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn a_providers_terms_are_accepted_in_the_connect_flow_before_the_browser_leaves(
    backend: Backend,
) {
    let w = access_world(backend, WITH_TERMS, Vec::new()).await;
    let app = &w.app;
    let cookie = app.session_cookie("owner").await;

    let (status, problem) = connect(app, &cookie).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "agreementRequired");
    assert_eq!(
        problem["agreementsUrl"],
        app.url("/agreements?provider=dev")
    );
    assert_eq!(
        problem["agreements"],
        json!([{ "provider": "dev", "version": "t1", "title": "HPC acceptable use",
                 "url": "https://hpc.example.org/aup" }])
    );
    assert!(
        problem.get("redirect").is_none(),
        "nothing is sent to the provider"
    );
    let (status, problem) = brokered(app, &w.owner).await;
    assert_eq!(problem["code"], "agreementRequired", "{status} {problem}");

    let (status, _) = accept(app, &w.owner, json!({ "provider": "dev", "version": "t0" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = accept(
        app,
        &w.owner,
        json!({ "provider": "ghost", "version": "t1" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = accept(app, &w.owner, json!({ "provider": "dev", "version": "t1" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, started) = connect(app, &cookie).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert!(
        started["redirect"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/ucloud/dev/usermap")
    );
    // Terms accepted; the next gate is the connection itself.
    let (_, problem) = brokered(app, &w.owner).await;
    assert_eq!(problem["code"], "connectionRequired", "{problem}");
    let explained = access(app, &w.owner).await;
    assert_eq!(check(&explained, "agreements")["ok"], true);
    assert_eq!(check(&explained, "connection")["ok"], false);
    let mine = app.get(&w.owner, "/api/me/agreements").await.1;
    assert_eq!(
        mine,
        json!([{ "provider": "dev", "version": "t1", "acceptedAt": mine[0]["acceptedAt"] }])
    );
    w.app.stop().await;
}
crate::on_both_backends!(
    provider_terms_in_the_connect_flow,
    a_providers_terms_are_accepted_in_the_connect_flow_before_the_browser_leaves
);

async fn two_factor_and_assurance_are_refused_at_connect_and_at_brokering_naming_what_is_missing(
    backend: Backend,
) {
    let w = access_world(backend, STRICT, Vec::new()).await;
    let app = &w.app;
    let cookie = app.session_cookie("owner").await;

    let (status, problem) = brokered(app, &w.owner).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "assuranceRequired");
    assert_eq!(problem["missing"], json!(["twoFactorAuthentication"]));
    assert_eq!(problem["signInUrl"], app.url("/login"));
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("identity provider that vouches"),
        "{problem}"
    );
    let (status, problem) = connect(app, &cookie).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("assuranceRequired"))
    );
    let explained = access(app, &w.owner).await;
    assert_eq!(check(&explained, "twoFactor")["ok"], false);
    assert_eq!(
        check(&explained, "twoFactor")["action"]["url"],
        app.url("/login")
    );
    assert_eq!(check(&explained, "assurance")["ok"], false);
    assert!(
        check(&explained, "assurance")["reason"]
            .as_str()
            .unwrap()
            .contains(MEDIUM)
    );

    // An operator vouches for two factors: assurance is what is missing now.
    app.app
        .accounts
        .set_assurance(&Actor::Operator, "owner", &[], Some(true))
        .await
        .unwrap();
    let (_, problem) = brokered(app, &w.owner).await;
    assert_eq!(problem["code"], "assuranceRequired");
    assert_eq!(problem["missing"], json!([MEDIUM]));
    let (_, problem) = connect(app, &cookie).await;
    assert_eq!(problem["missing"], json!([MEDIUM]), "{problem}");

    app.app
        .accounts
        .set_assurance(&Actor::Operator, "owner", &[MEDIUM.to_owned()], None)
        .await
        .unwrap();
    let (status, seen) = brokered(app, &w.owner).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["principal"]["assurance"], json!([MEDIUM]));
    assert_eq!(seen["principal"]["twoFactorAuthentication"], true);
    assert_eq!(access(app, &w.owner).await["allowed"], true);
    assert_eq!(connect(app, &cookie).await.0, StatusCode::CREATED);
    w.app.stop().await;
}
crate::on_both_backends!(
    two_factor_and_assurance,
    two_factor_and_assurance_are_refused_at_connect_and_at_brokering_naming_what_is_missing
);

async fn a_pending_account_is_refused_everywhere_with_its_state(backend: Backend) {
    let w = access_world(backend, crate::upstream::MANIFEST, Vec::new()).await;
    let app = &w.app;
    let id = app.app.accounts.user("owner").await.unwrap().id;
    sql(
        app,
        &format!("INSERT INTO account_states (user_id, status, updated_at) VALUES ({id}, 'pendingApproval', 0)"),
    )
    .await;
    let problem = answers(
        app,
        &w.owner,
        "/api/providers/dev/access",
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(problem["code"], "accountPendingApproval");
    let (status, problem) = brokered(app, &w.owner).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("accountPendingApproval"))
    );
    app.app
        .accounts
        .approve(&Actor::Operator, "owner")
        .await
        .unwrap();
    assert_eq!(brokered(app, &w.owner).await.0, StatusCode::OK);
    w.app.stop().await;
}
crate::on_both_backends!(
    pending_approval,
    a_pending_account_is_refused_everywhere_with_its_state
);

async fn an_invalid_account_is_told_which_attribute_is_missing_and_where_to_complete_it(
    backend: Backend,
) {
    let w = access_world(backend, crate::upstream::MANIFEST, Vec::new()).await;
    let app = &w.app;
    sql(app, "UPDATE users SET email = '' WHERE username = 'owner'").await;
    let explained = wait_until(Duration::from_secs(2), || async {
        let a = access(app, &w.owner).await;
        (check(&a, "account")["ok"] == false).then_some(a)
    })
    .await;
    assert_eq!(explained["allowed"], false);
    let account = check(&explained, "account");
    assert!(
        account["reason"].as_str().unwrap().contains("email"),
        "{account}"
    );
    assert_eq!(account["action"]["url"], app.url("/account"));
    let (status, problem) = brokered(app, &w.owner).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "accountInvalid");
    assert_eq!(problem["missing"], json!(["email"]));
    assert_eq!(problem["completeUrl"], app.url("/account"));

    // A local account completes it on /account.
    let cookie = app.session_cookie("owner").await;
    let page = app
        .http
        .get(app.url("/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = app
        .http
        .post(app.url("/account"))
        .header("cookie", &cookie)
        .header("origin", &app.url)
        .form(&[("csrf", csrf.as_str()), ("email", "owner@example.org")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    wait_until(Duration::from_secs(2), || async {
        let (s, _) = brokered(app, &w.owner).await;
        (s == StatusCode::OK).then_some(())
    })
    .await;
    assert_eq!(
        app.get(&w.owner, "/api/me").await.1["principal"]["email"],
        "owner@example.org"
    );
    w.app.stop().await;
}
crate::on_both_backends!(
    invalid_account,
    an_invalid_account_is_told_which_attribute_is_missing_and_where_to_complete_it
);

async fn an_acceptance_made_by_another_replica_is_seen_here_within_a_second(backend: Backend) {
    let w = access_world(
        backend,
        crate::upstream::MANIFEST,
        agreements(&[("aup", "1")]),
    )
    .await;
    let app = &w.app;
    assert_eq!(
        app.get(&w.owner, "/api/wallets").await.0,
        StatusCode::FORBIDDEN,
        "cached: not accepted"
    );
    let other =
        gateway::app::App::build(app.app.config.clone(), app.url.clone(), app.clock.clone())
            .await
            .unwrap();
    let user = other.accounts.user("owner").await.unwrap();
    other
        .gate
        .accept(&user, &gateway::policy::Subject::Gateway("aup".into()), "1")
        .await
        .unwrap();
    wait_until(Duration::from_secs(1), || async {
        (app.get(&w.owner, "/api/wallets").await.0 == StatusCode::OK).then_some(())
    })
    .await;
    w.app.stop().await;
}
crate::on_both_backends!(
    acceptance_on_another_replica,
    an_acceptance_made_by_another_replica_is_seen_here_within_a_second
);
