//! Wallets, grants and charges (SPEC §5) over HTTP. The concurrency proof is in `charge_race.rs`.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Registers a test provider owned by `owner` and returns an access token for it.
pub async fn provider_token(app: &TestApp, owner: &str, id: &str) -> String {
    let (status, reg) = app.register(owner, id, "test").await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let (status, body) = app
        .oauth_refresh(reg["refreshToken"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

pub async fn grant(app: &TestApp, admin: &str, owner: Value, provider: &str, units: i64) -> Value {
    let body = json!({ "owner": owner, "provider": provider, "units": units });
    let (status, wallet) = app.post(admin, "/api/admin/wallets/grant", body).await;
    assert_eq!(status, StatusCode::OK, "{wallet}");
    wallet
}

pub async fn charge(
    app: &TestApp,
    access: &str,
    charge_id: &str,
    owner: Value,
    units: i64,
) -> (StatusCode, Value) {
    let body = json!({ "chargeId": charge_id, "owner": owner, "units": units, "description": "1 core-hour" });
    app.post(access, "/api/accounting/charge", body).await
}

/// The balance of the caller's wallet of `owner` at `provider`, as `GET /api/wallets` shows it.
pub async fn balance(app: &TestApp, token: &str, owner: &Value, provider: &str) -> Option<i64> {
    let (status, wallets) = app.get(token, "/api/wallets").await;
    assert_eq!(status, StatusCode::OK, "{wallets}");
    wallets
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["owner"] == *owner && w["provider"] == provider)
        .map(|w| w["balance"].as_i64().unwrap())
}

async fn admins_grant_and_users_see_their_own_and_their_projects_wallets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let alice = app.user("alice", false).await;
    let bob = app.user("bob", false).await;
    app.register(&admin, "hpc", "test").await;
    let (_, project) = app
        .post(&alice, "/api/projects", json!({ "title": "Climate" }))
        .await;
    let pid = project["id"].as_str().unwrap();

    let wallet = grant(&app, &admin, json!({ "username": "alice" }), "hpc", 100).await;
    assert_eq!(
        (wallet["balance"].clone(), wallet["owner"].clone()),
        (json!(100), json!({ "username": "alice" }))
    );
    let wallet = grant(&app, &admin, json!({ "username": "alice" }), "hpc", 25).await;
    assert_eq!(wallet["balance"], 125, "grants add up");
    grant(&app, &admin, json!({ "project": pid }), "hpc", 50).await;

    let (_, wallets) = app.get(&alice, "/api/wallets").await;
    let seen: Vec<_> = wallets
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["owner"].clone(),
                w["provider"].clone(),
                w["balance"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (json!({ "username": "alice" }), json!("hpc"), json!(125)),
            (json!({ "project": pid }), json!("hpc"), json!(50)),
        ]
    );
    assert_eq!(app.get(&bob, "/api/wallets").await.1, json!([]));

    let cases = [
        (
            &alice,
            json!({ "owner": { "username": "bob" }, "provider": "hpc", "units": 5 }),
            StatusCode::FORBIDDEN,
        ),
        (
            &admin,
            json!({ "owner": { "username": "nobody" }, "provider": "hpc", "units": 5 }),
            StatusCode::NOT_FOUND,
        ),
        (
            &admin,
            json!({ "owner": { "project": "nope" }, "provider": "hpc", "units": 5 }),
            StatusCode::NOT_FOUND,
        ),
        (
            &admin,
            json!({ "owner": { "username": "bob" }, "provider": "nope", "units": 5 }),
            StatusCode::NOT_FOUND,
        ),
        (
            &admin,
            json!({ "owner": { "username": "bob" }, "provider": "hpc", "units": 0 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({ "owner": { "username": "bob" }, "provider": "hpc", "units": -5 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({ "owner": {}, "provider": "hpc", "units": 5 }),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (token, body, expected) in cases {
        let (status, problem) = app
            .post(token, "/api/admin/wallets/grant", body.clone())
            .await;
        assert_eq!(status, expected, "{body} → {problem}");
    }
    assert_eq!(
        app.get(&bob, "/api/wallets").await.1,
        json!([]),
        "refused grants change nothing"
    );
    app.stop().await;
}
on_both_backends!(
    grants,
    admins_grant_and_users_see_their_own_and_their_projects_wallets
);

async fn a_charge_is_idempotent_and_a_402_takes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let alice = app.user("alice", false).await;
    let access = provider_token(&app, &admin, "hpc").await;
    let me = json!({ "username": "alice" });
    grant(&app, &admin, me.clone(), "hpc", 100).await;

    let first = charge(&app, &access, "job-1", me.clone(), 30).await;
    assert_eq!(
        first,
        (StatusCode::OK, json!({ "balance": 70, "duplicate": false }))
    );
    let again = charge(&app, &access, "job-1", me.clone(), 30).await;
    assert_eq!(
        again,
        (StatusCode::OK, json!({ "balance": 70, "duplicate": true }))
    );
    let (status, problem) = charge(&app, &access, "job-1", me.clone(), 31).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );
    assert_eq!(balance(&app, &alice, &me, "hpc").await, Some(70));

    let (status, problem) = charge(&app, &access, "job-2", me.clone(), 71).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{problem}");
    assert_eq!(problem["code"], "insufficientFunds");
    assert_eq!(
        (problem["balance"].clone(), problem["duplicate"].clone()),
        (json!(70), json!(false))
    );
    assert_eq!(
        balance(&app, &alice, &me, "hpc").await,
        Some(70),
        "a 402 takes nothing"
    );

    // The first answer stands even after a grant: a retry is a retry, not a new charge.
    grant(&app, &admin, me.clone(), "hpc", 50).await;
    let (status, problem) = charge(&app, &access, "job-2", me.clone(), 71).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        (problem["balance"].clone(), problem["duplicate"].clone()),
        (json!(70), json!(true))
    );
    let third = charge(&app, &access, "job-3", me.clone(), 71).await;
    assert_eq!(
        third,
        (StatusCode::OK, json!({ "balance": 49, "duplicate": false }))
    );
    let exact = charge(&app, &access, "job-4", me.clone(), 49).await;
    assert_eq!(
        exact,
        (StatusCode::OK, json!({ "balance": 0, "duplicate": false })),
        "down to zero, never below"
    );

    let (status, charges) = app
        .get(&alice, "/api/wallets/charges?provider=hpc&limit=3")
        .await;
    assert_eq!(status, StatusCode::OK, "{charges}");
    let listed: Vec<_> = charges
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["chargeId"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
                c["units"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("job-4", "accepted", 49),
            ("job-3", "accepted", 71),
            ("job-2", "insufficientFunds", 71)
        ]
    );
    assert_eq!(charges[0]["description"], "1 core-hour");
    let (status, _) = app.get(&alice, "/api/wallets/charges?color=red").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown parameters are refused"
    );
    app.stop().await;
}
on_both_backends!(idempotency, a_charge_is_idempotent_and_a_402_takes_nothing);

async fn a_provider_charges_only_its_own_wallets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let alice = app.user("alice", false).await;
    let hpc = provider_token(&app, &admin, "hpc").await;
    let cloud = provider_token(&app, &admin, "cloud").await;
    let me = json!({ "username": "alice" });
    grant(&app, &admin, me.clone(), "hpc", 100).await;

    let (status, problem) = charge(&app, &cloud, "steal", me.clone(), 10).await;
    assert_eq!(
        (status, problem["balance"].clone()),
        (StatusCode::PAYMENT_REQUIRED, json!(0))
    );
    assert_eq!(balance(&app, &alice, &me, "hpc").await, Some(100));

    // chargeIds are per provider: the same key at another provider is another charge.
    let (status, body) = charge(&app, &hpc, "steal", me.clone(), 10).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert_eq!(balance(&app, &alice, &me, "hpc").await, Some(90));

    // A user's API token is not a provider's access token.
    let (status, _) = charge(&app, &alice, "mine", me.clone(), 1).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A suspended provider cannot charge.
    app.post(&admin, "/api/admin/providers/hpc/suspend", json!({}))
        .await;
    let (status, _) = charge(&app, &hpc, "late", me.clone(), 1).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(balance(&app, &alice, &me, "hpc").await, Some(90));
    app.stop().await;
}
on_both_backends!(own_wallets, a_provider_charges_only_its_own_wallets);

async fn providers_charge_project_wallets_that_members_can_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let pi = app.user("pi", false).await;
    let member = app.user("member", false).await;
    let outsider = app.user("outsider", false).await;
    let access = provider_token(&app, &admin, "hpc").await;
    let (_, project) = app
        .post(&pi, "/api/projects", json!({ "title": "Climate" }))
        .await;
    let pid = project["id"].as_str().unwrap().to_owned();
    let path = format!("/api/projects/{pid}/members");
    app.post(&pi, &path, json!({ "username": "member", "role": "USER" }))
        .await;
    let owner = json!({ "project": pid });
    grant(&app, &admin, owner.clone(), "hpc", 100).await;

    let answer = charge(&app, &access, "p-1", owner.clone(), 40).await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({ "balance": 60, "duplicate": false }))
    );
    assert_eq!(balance(&app, &member, &owner, "hpc").await, Some(60));
    assert_eq!(balance(&app, &pi, &owner, "hpc").await, Some(60));
    assert_eq!(balance(&app, &outsider, &owner, "hpc").await, None);

    let listing = format!("/api/wallets/charges?project={pid}");
    let (status, charges) = app.get(&member, &listing).await;
    assert_eq!(
        (status, charges[0]["chargeId"].clone()),
        (StatusCode::OK, json!("p-1"))
    );
    assert_eq!(app.get(&outsider, &listing).await.0, StatusCode::NOT_FOUND);
    let (_, own) = app.get(&member, "/api/wallets/charges").await;
    assert_eq!(
        own,
        json!([]),
        "a project's charges are not the member's own"
    );

    let (status, _) = charge(&app, &access, "p-2", json!({ "project": "nope" }), 1).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
on_both_backends!(
    project_wallets,
    providers_charge_project_wallets_that_members_can_read
);
