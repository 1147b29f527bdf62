//! Two real `gateway serve` replicas on one PostgreSQL database (SPEC §10): whatever one of them —
//! or the operator's CLI — changes that the other caches takes effect there within 1 second. Each
//! test warms the other replica's cache first, then polls it with a deadline of 1 s (the spec's
//! bound, not a timing measurement).

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected value"
)]

use e2e::replicas::Replicas;
use e2e::wait_for;
use serde_json::{Value, json};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(1);

/// Polls `GET path` on the replica until it answers `status`, for at most 1 s.
async fn answers_within_a_second(
    r: &Replicas,
    replica: &e2e::process::Gateway,
    token: &str,
    path: &str,
    status: u16,
) {
    wait_for(&format!("{path} answering {status}"), WITHIN, || async {
        (r.get(replica, token, path).await.0 == status).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_api_token_revoked_on_one_replica_is_refused_by_the_other_within_a_second() {
    let r = Replicas::start().await;
    let alice = r.user("alice");
    let bob = r.user("bob");
    assert_eq!(r.get(&r.b, &alice, "/api/me").await.0, 200, "cached on B");
    let (_, tokens) = r.get(&r.a, &alice, "/api/tokens").await;
    let id = tokens[0]["id"].as_str().unwrap();
    let deleted = r
        .http
        .delete(r.a.url(&format!("/api/tokens/{id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    answers_within_a_second(&r, &r.b, &alice, "/api/me", 401).await;
    assert_eq!(r.get(&r.b, &bob, "/api/me").await.0, 200, "only that token");
    r.finish().await;
}

#[tokio::test]
async fn a_session_signed_out_on_one_replica_is_refused_by_the_other_within_a_second() {
    let r = Replicas::start().await;
    r.user("alice");
    let login = r
        .http
        .post(r.a.url("/auth/login"))
        .json(&json!({ "username": "alice", "password": "a long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = e2e::cookie_set_by(&login);
    let me = |replica: &e2e::process::Gateway| {
        r.http
            .get(replica.url("/api/me"))
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(me(&r.b).await.unwrap().status(), 200, "cached on B");
    let out = r
        .http
        .post(r.a.url("/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", e2e::replicas::PUBLIC_URL)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    wait_for("the session refused on B", WITHIN, || async {
        (me(&r.b).await.unwrap().status() == 401).then_some(())
    })
    .await;
    r.finish().await;
}

#[tokio::test]
async fn a_user_suspended_from_the_cli_is_refused_by_both_replicas_within_a_second() {
    let r = Replicas::start().await;
    let alice = r.user("alice");
    for replica in [&r.a, &r.b] {
        assert_eq!(r.get(replica, &alice, "/api/me").await.0, 200);
    }
    r.a.run(&["users", "suspend", "alice"], "");
    for replica in [&r.a, &r.b] {
        answers_within_a_second(&r, replica, &alice, "/api/me", 403).await;
    }
    r.a.run(&["users", "resume", "alice"], "");
    for replica in [&r.a, &r.b] {
        answers_within_a_second(&r, replica, &alice, "/api/me", 200).await;
    }
    r.finish().await;
}

/// The problem `type` a brokered request from `token` gets on `replica`.
async fn brokered_problem(
    r: &Replicas,
    replica: &e2e::process::Gateway,
    token: &str,
) -> (u16, String) {
    let (status, body) = r.get(replica, token, "/ucloud/hpc/jobs").await;
    (status, body["type"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_provider_suspended_from_the_cli_is_not_brokered_by_either_replica_within_a_second() {
    let r = Replicas::start().await;
    let owner = r.user("owner");
    r.register(&owner, "hpc", e2e::free_port()).await;
    for replica in [&r.a, &r.b] {
        let (status, problem) = brokered_problem(&r, replica, &owner).await;
        assert!(!problem.ends_with("providerInactive"), "{status} {problem}");
    }
    assert_eq!(
        r.a.run(&["providers", "suspend", "hpc"], "").trim(),
        "hpc is now suspended"
    );
    for replica in [&r.a, &r.b] {
        wait_for("providerInactive", WITHIN, || async {
            let (status, problem) = brokered_problem(&r, replica, &owner).await;
            (status == 403 && problem.ends_with("providerInactive")).then_some(())
        })
        .await;
    }
    r.finish().await;
}

use e2e::replicas::MANIFEST;

fn docker_web(provider: &Value) -> Value {
    provider["manifest"]["features"]["compute"]["docker"]["web"].clone()
}

#[tokio::test]
async fn a_manifest_reloaded_on_one_replica_is_served_by_the_other_within_a_second() {
    let r = Replicas::start().await;
    let owner = r.user("owner");
    let manifest = std::sync::Arc::new(std::sync::Mutex::new(MANIFEST.to_owned()));
    let (port, site) = e2e::replicas::serve_manifest("hpc", manifest.clone()).await;
    r.register(&owner, "hpc", port).await;
    let (status, body) = r
        .post(
            &r.a,
            &owner,
            "/api/providers/hpc/manifest/reload",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for replica in [&r.a, &r.b] {
        wait_for("the first manifest", WITHIN, || async {
            let (_, p) = r.get(replica, &owner, "/api/providers/hpc").await;
            (docker_web(&p) == json!(false)).then_some(())
        })
        .await;
    }
    // The site changes its manifest; its owner forces a reload through A.
    *manifest.lock().unwrap() = MANIFEST.replacen("web: false", "web: true", 1);
    let (status, body) = r
        .post(
            &r.a,
            &owner,
            "/api/providers/hpc/manifest/reload",
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["reload"].clone()),
        (200, json!("updated")),
        "{body}"
    );
    wait_for("B serving the reloaded manifest", WITHIN, || async {
        let (_, p) = r.get(&r.b, &owner, "/api/providers/hpc").await;
        (docker_web(&p) == json!(true)).then_some(())
    })
    .await;
    site.abort();
    r.finish().await;
}

#[tokio::test]
async fn a_key_rotated_on_one_replica_is_published_by_the_other_within_a_second() {
    let r = Replicas::start().await;
    let before = r.published_kids(&r.b).await;
    let (status, rotated) = r
        .post(&r.a, &r.admin, "/api/admin/keys/rotate", json!({}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let kid = rotated["kid"].as_str().unwrap().to_owned();
    wait_for("B publishing the new key", WITHIN, || async {
        let kids = r.published_kids(&r.b).await;
        (kids.contains(&kid) && before.iter().all(|k| kids.contains(k))).then_some(())
    })
    .await;
    r.finish().await;
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

#[tokio::test]
async fn during_an_immediate_rotation_no_replica_rejects_a_token_signed_by_the_other() {
    let r = Replicas::start().await;
    let owner = r.user("owner");
    let alice = r.user("alice");
    let refresh = r.register(&owner, "hpc", e2e::free_port()).await;
    r.grant("alice", "hpc", 100_000);
    let old_kid = r.published_kids(&r.a).await[0].clone();
    // Tokens from A, each used at once on B (and the reverse), while A rotates with --immediate.
    let drive = |n: usize, tag: &'static str| {
        let r = &r;
        let refresh = refresh.clone();
        async move {
            let mut kids = Vec::new();
            for i in 0..n {
                let (from, to) = if i % 2 == 0 {
                    (&r.a, &r.b)
                } else {
                    (&r.b, &r.a)
                };
                let access = r.access_token(from, &refresh).await;
                kids.push(kid_of(&access));
                let (status, body) = r
                    .charge(to, &access, &format!("{tag}-{i}"), "alice", 1)
                    .await
                    .unwrap();
                assert_eq!(
                    status,
                    200,
                    "token {i} ({}) refused: {body}",
                    kid_of(&access)
                );
            }
            kids
        }
    };
    let rotate = async {
        let (status, rotated) = r
            .post(
                &r.a,
                &r.admin,
                "/api/admin/keys/rotate?immediate=true",
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{rotated}");
        rotated["kid"].as_str().unwrap().to_owned()
    };
    let (before, new_kid, during) = tokio::join!(drive(40, "before"), rotate, drive(200, "during"));
    let after = drive(40, "after").await;
    assert!(before.iter().all(|k| *k == old_kid || *k == new_kid));
    assert!(
        after.iter().all(|k| *k == new_kid),
        "both replicas sign with the new key"
    );
    assert!(during.contains(&new_kid));
    for replica in [&r.a, &r.b] {
        assert!(r.published_kids(replica).await.contains(&new_kid));
    }
    let (_, wallets) = r.get(&r.a, &alice, "/api/wallets").await;
    assert_eq!(wallets[0]["balance"], 100_000 - 280, "{wallets}");
    r.finish().await;
}
