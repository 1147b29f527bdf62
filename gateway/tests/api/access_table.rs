//! The access explanation can never disagree with the gate: for random combinations of account
//! state, provider state, project membership, agreements, connection, two-factor, assurance and
//! wallet, `GET /api/providers/{id}/access` says `allowed` exactly when the broker forwards the
//! request to the provider (the upstream test double answers 200 only when it was reached).

use crate::access::{MEDIUM, access_world, agreements, sql};
use crate::support::{Backend, TestApp, read};
use gateway::audit::Actor;
use gateway::model::OwnerRef;
use gateway::policy::Subject;
use gateway::registry::Action;
use reqwest::StatusCode;

/// Every requirement at once, so each dimension matters.
const EVERYTHING: &str = "users:\n  requireExplicitMapping: true\n  requireTwoFactor: true\n  requireAssurance: [\"https://refeds.org/assurance/IAP/medium\"]\n  terms: { version: \"t1\", title: \"Terms\", url: \"https://hpc.example.org/terms\" }\nfeatures:\n  compute:\n    docker: { enabled: true }\n";

/// A tiny seeded generator (xorshift64*): the same rounds on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `i` in `0..n`, the first value (the one that passes) three times as likely as each other.
    fn pick(&mut self, n: u64) -> u64 {
        let r = self.next() % (n + 2);
        if r < 3 { 0 } else { r - 2 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Round {
    /// 0 active, 1 invalid (no email), 2 pendingApproval.
    account: u64,
    /// 0 active, 1 suspended.
    provider: u64,
    /// 0 none, 1 a project the user is in, 2 one they are not.
    project: u64,
    /// 0 both accepted, 1 only the gateway's, 2 neither.
    agreements: u64,
    /// 0 connected, 1 not.
    connection: u64,
    /// 0 two factors, 1 not.
    two_factor: u64,
    /// 0 medium assurance, 1 none.
    assurance: u64,
    /// 0 a wallet, 1 none: information, never a gate.
    wallet: u64,
}

async fn set(app: &TestApp, user_id: i64, r: Round, projects: &[String; 2]) {
    let accounts = &app.app.accounts;
    let email = if r.account == 1 {
        ""
    } else {
        "owner@example.org"
    };
    sql(
        app,
        &format!("UPDATE users SET email = '{email}' WHERE id = {user_id}"),
    )
    .await;
    sql(
        app,
        &format!("DELETE FROM account_states WHERE user_id = {user_id}"),
    )
    .await;
    if r.account == 2 {
        sql(
            app,
            &format!("INSERT INTO account_states (user_id, status, updated_at) VALUES ({user_id}, 'pendingApproval', 0)"),
        )
        .await;
    }
    let _ = app
        .app
        .registry
        .apply(
            "dev",
            if r.provider == 0 {
                Action::Resume
            } else {
                Action::Suspend
            },
            &gateway::audit::Actor::Operator,
        )
        .await;
    sql(
        app,
        &format!("DELETE FROM agreement_acceptances WHERE user_id = {user_id}"),
    )
    .await;
    app.app.gate.agreements.forget(user_id);
    let user = accounts.user("owner").await.unwrap();
    if r.agreements <= 1 {
        app.app
            .gate
            .accept(&user, &Subject::Gateway("aup".into()), "1")
            .await
            .unwrap();
    }
    if r.agreements == 0 {
        app.app
            .gate
            .accept(&user, &Subject::Provider("dev".into()), "t1")
            .await
            .unwrap();
    }
    sql(
        app,
        &format!("DELETE FROM connections WHERE user_id = {user_id}"),
    )
    .await;
    if r.connection == 0 {
        sql(
            app,
            &format!("INSERT INTO connections (id, user_id, provider_id, state, local_identity, created_at, updated_at) \
                      VALUES ('c{user_id}', {user_id}, 'dev', 'ok', 'local', 0, 0)"),
        )
        .await;
    }
    let assurance = if r.assurance == 0 {
        vec![MEDIUM.to_owned()]
    } else {
        Vec::new()
    };
    accounts
        .set_assurance(
            &Actor::Operator,
            "owner",
            &assurance,
            Some(r.two_factor == 0),
        )
        .await
        .unwrap();
    if r.wallet == 0 {
        let owner = match r.project {
            1 => OwnerRef::Project(projects[0].clone()),
            _ => OwnerRef::Username("owner".into()),
        };
        app.app
            .accounting
            .grant(&Actor::Operator, &owner, "dev", 10)
            .await
            .unwrap();
    }
    // What the SQL above changed in cached records: dropped here at once, as the feed would.
    accounts.forget_user_credentials(user_id);
    app.app.gate.agreements.forget(user_id);
}

async fn the_access_explanation_says_allowed_exactly_when_the_broker_forwards(backend: Backend) {
    let w = access_world(backend, EVERYTHING, agreements(&[("aup", "1")])).await;
    let app = &w.app;
    let user = app.app.accounts.user("owner").await.unwrap();
    let mine = app.app.projects.create(&user, "Mine").await.unwrap().id;
    app.user("other", false).await;
    let other = app.app.accounts.user("other").await.unwrap();
    let theirs = app.app.projects.create(&other, "Theirs").await.unwrap().id;
    let projects = [mine, theirs];

    let mut rng = Rng(0x5eed_0013);
    let (mut allowed, mut refused) = (0, 0);
    for i in 0..40 {
        let r = Round {
            account: rng.pick(3),
            provider: rng.pick(2),
            project: rng.pick(3),
            agreements: rng.pick(3),
            connection: rng.pick(2),
            two_factor: rng.pick(2),
            assurance: rng.pick(2),
            wallet: rng.pick(2),
        };
        set(app, user.id, r, &projects).await;
        let project = match r.project {
            0 => None,
            n => Some(projects[(n - 1) as usize].as_str()),
        };

        let asked = match project {
            Some(p) => format!("/api/providers/dev/access?project={p}"),
            None => "/api/providers/dev/access".to_owned(),
        };
        let ask = app.http.get(app.url(&asked)).bearer_auth(&w.owner);
        let mut call = app
            .http
            .get(app.url("/ucloud/dev/compute/docker/echo"))
            .bearer_auth(&w.owner);
        if let Some(p) = project {
            call = call.header("ucloud-project", p);
        }
        let (status, explained) = read(ask.send().await.unwrap()).await;
        let says_allowed = status == StatusCode::OK && explained["allowed"] == true;
        let (forwarded_status, seen) = read(call.send().await.unwrap()).await;
        // The double's echo answers the principal it verified: only a forwarded call has one.
        let forwarded = forwarded_status == StatusCode::OK && seen["principal"].is_object();
        assert_eq!(
            says_allowed, forwarded,
            "round {i} {r:?}: /access {status} {explained} but the broker answered {forwarded_status} {seen}"
        );
        if status == StatusCode::OK {
            let checks: Vec<&str> = explained["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["check"].as_str().unwrap())
                .collect();
            assert_eq!(
                checks,
                [
                    "account",
                    "provider",
                    "project",
                    "agreements",
                    "connection",
                    "twoFactor",
                    "assurance"
                ]
            );
            if !says_allowed {
                // The broker refuses with the first failed check's problem.
                let first = explained["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["ok"] == false)
                    .unwrap();
                let code = match first["check"].as_str().unwrap() {
                    "account" => "accountInvalid",
                    "provider" => "providerInactive",
                    "project" => "notAProjectMember",
                    "agreements" => "agreementRequired",
                    "connection" => "connectionRequired",
                    _ => "assuranceRequired",
                };
                assert_eq!(
                    seen["code"], code,
                    "round {i}: first failed {first}, broker said {seen}"
                );
            }
            let has_wallet = !explained["wallet"].is_null();
            assert!(
                !has_wallet || explained["wallet"]["balance"].as_i64().unwrap() > 0,
                "{explained}"
            );
        }
        if says_allowed {
            allowed += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        allowed >= 3 && refused >= 3,
        "not vacuous: {allowed} allowed, {refused} refused"
    );
    w.app.stop().await;
}
crate::on_both_backends!(
    access_equals_gate,
    the_access_explanation_says_allowed_exactly_when_the_broker_forwards
);
