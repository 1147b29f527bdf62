//! Faults with two replicas on one PostgreSQL database (SPEC §10): a replica killed with SIGKILL in
//! the middle of a burst of charges and usermap reports, every failed call retried on the other.

use e2e::replicas::Replicas;
use e2e::wait_for;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CHARGES: usize = 300;
const USERS: usize = 10;
const GRANT: u64 = 1_000_000;
/// How many calls reach A before it is killed.
const KILL_AFTER: usize = 80;

fn units(i: usize) -> u64 {
    (i % 7 + 1) as u64
}

#[derive(Debug, Clone, Copy)]
enum Call {
    /// Charge `c-{n}` of `units(n)` to alice.
    Charge(usize),
    /// Report user `u{n}` mapped.
    Report(usize),
}

async fn send(
    r: &Replicas,
    replica: &e2e::process::Gateway,
    access: &str,
    call: Call,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    match call {
        Call::Charge(n) => {
            r.charge(replica, access, &format!("c-{n}"), "alice", units(n))
                .await
        }
        Call::Report(n) => report(r, replica, access, n).await,
    }
}

/// What one call did: answered by A, or to be retried on B.
enum Outcome {
    Done,
    Retry,
}

#[tokio::test]
async fn a_replica_killed_mid_burst_loses_or_doubles_no_charge_and_leaves_no_connection_half_done()
{
    let mut r = Replicas::start().await;
    let owner = r.user("owner");
    let alice = r.user("alice");
    let manifest = Arc::new(std::sync::Mutex::new(e2e::replicas::MANIFEST.to_owned()));
    let (port, site) = e2e::replicas::serve_manifest("hpc", manifest).await;
    let refresh = r.register(&owner, "hpc", port).await;
    let (status, body) = r
        .post(
            &r.a,
            &owner,
            "/api/providers/hpc/manifest/reload",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    r.grant("alice", "hpc", GRANT);
    for i in 0..USERS {
        let (status, body) = r
            .post(
                &r.a,
                &r.admin,
                "/api/admin/users",
                json!({ "username": format!("u{i}"), "email": format!("u{i}@example.org"),
                        "firstName": "U", "lastName": "Ser", "admin": true }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        // Their first brokered request opens the implicit flow the provider's report completes.
        // (They are admins because only admins and its owner may use a test provider.)
        let token = r.a.create_token(&format!("u{i}"));
        wait_for("a brokered request", Duration::from_secs(5), || async {
            // Past the broker's gates (the dev manifest offers batch containers), the
            // request is recorded whatever the site answers.
            let (status, _) = r
                .get(&r.b, &token, "/ucloud/hpc/compute/docker/batch")
                .await;
            (status != 503).then_some(())
        })
        .await;
    }
    let on_a = r.access_token(&r.a, &refresh).await;
    let on_b = r.access_token(&r.b, &refresh).await;

    // The burst goes to A; after KILL_AFTER answers A dies, whatever it is doing.
    let answered = Arc::new(AtomicUsize::new(0));
    let victim = r.served_a.take().unwrap();
    let killer = {
        let answered = answered.clone();
        tokio::spawn(async move {
            while answered.load(Ordering::SeqCst) < KILL_AFTER {
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            victim.kill();
        })
    };
    let shared = &r;
    // Reports are spread through the charges, so some reach A before it dies and some after.
    let order: Vec<Call> = {
        let mut charges = (0..CHARGES).map(Call::Charge);
        let mut order = Vec::new();
        for n in 0..USERS {
            order.extend(charges.by_ref().take(29));
            order.push(Call::Report(n));
        }
        order.extend(charges);
        order
    };
    let calls = order.into_iter().map(|call| {
        let (on_a, answered) = (on_a.clone(), answered.clone());
        let r = shared;
        async move {
            let result = send(r, &r.a, &on_a, call).await;
            answered.fetch_add(1, Ordering::SeqCst);
            match result {
                Ok((200, _)) => (call, Outcome::Done),
                Ok((status, body)) if status < 500 => panic!("{call:?}: {status} {body}"),
                _ => (call, Outcome::Retry),
            }
        }
    });
    let outcomes: Vec<(Call, Outcome)> = futures_util::stream::iter(calls)
        .buffer_unordered(16)
        .collect()
        .await;
    killer.await.unwrap();
    let retries: Vec<Call> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Retry))
        .map(|(call, _)| *call)
        .collect();
    assert!(
        retries.iter().any(|c| matches!(c, Call::Charge(_)))
            && retries.iter().any(|c| matches!(c, Call::Report(_))),
        "A died with charges and reports still to answer: {retries:?}"
    );

    // Every call that got no answer is retried on B, with the same charge id.
    for call in retries {
        let (status, body) = send(&r, &r.b, &on_b, call).await.unwrap();
        assert_eq!(status, 200, "retry {call:?}: {body}");
    }

    let (_, wallets) = r.get(&r.b, &alice, "/api/wallets").await;
    let charged: u64 = (0..CHARGES).map(units).sum();
    assert_eq!(
        wallets[0]["balance"],
        GRANT - charged,
        "every charge taken exactly once: {wallets}"
    );
    let (_, charges) = r
        .get(&r.b, &alice, "/api/wallets/charges?provider=hpc&limit=1000")
        .await;
    assert_eq!(
        charges.as_array().unwrap().len(),
        CHARGES,
        "one record per charge id"
    );

    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&r.database_url)
        .await
        .unwrap();
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, COUNT(*) FROM connections WHERE provider_id = 'hpc' GROUP BY state",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        states,
        [("ok".to_owned(), USERS as i64)],
        "one usable connection per user, none half-done"
    );
    site.abort();
    r.finish().await;
}

/// The provider's implicit-flow report that user `u{n}` is mapped (SPEC §4).
async fn report(
    r: &Replicas,
    replica: &e2e::process::Gateway,
    access: &str,
    n: usize,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    let resp = r
        .http
        .post(replica.url("/api/providers/usermap/hpc"))
        .bearer_auth(access)
        .json(&json!({ "username": format!("u{n}"), "localIdentity": format!("local{n}"), "state": "ok" }))
        .send()
        .await?;
    Ok((
        resp.status().as_u16(),
        resp.json().await.unwrap_or_default(),
    ))
}

/// `GET /readyz` on `replica`: status and content type (`None` when nothing answers).
async fn readiness(replica: &e2e::process::Gateway) -> Option<(u16, String)> {
    let r = reqwest::Client::new()
        .get(replica.url("/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Some((r.status().as_u16(), kind))
}

#[tokio::test]
async fn both_replicas_say_not_ready_while_postgres_is_away_and_recover_by_themselves() {
    // A server of this test's own, so restarting it disturbs no other test.
    let cluster = e2e::pg_cluster::PgCluster::start();
    let (url, database) = e2e::fresh_postgres_on(&cluster.url()).await;
    let r = Replicas::start_on(url, database).await;
    let owner = r.user("owner");
    let alice = r.user("alice");
    let refresh = r.register(&owner, "hpc", e2e::free_port()).await;
    r.grant("alice", "hpc", 1000);
    let access = r.access_token(&r.a, &refresh).await;
    for (n, replica) in [&r.a, &r.b].into_iter().enumerate() {
        let (status, body) = r
            .charge(replica, &access, &format!("before-{n}"), "alice", 1)
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
    }

    cluster.down();
    for replica in [&r.a, &r.b] {
        let answer = wait_for("readyz 503", Duration::from_secs(15), || async {
            readiness(replica)
                .await
                .filter(|(status, _)| *status == 503)
        })
        .await;
        assert_eq!(answer.1, "application/problem+json");
    }
    // A request that needs the database fails cleanly too, and the process stays up.
    let (status, _) = r.get(&r.a, &alice, "/api/wallets").await;
    assert!(status >= 500, "{status}");

    cluster.up();
    for replica in [&r.a, &r.b] {
        wait_for("readyz 200 again", Duration::from_secs(30), || async {
            readiness(replica)
                .await
                .filter(|(status, _)| *status == 200)
        })
        .await;
    }
    for (n, replica) in [&r.a, &r.b].into_iter().enumerate() {
        let (status, body) = r
            .charge(replica, &access, &format!("after-{n}"), "alice", 1)
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // The change feed listens again: a suspension from the CLI reaches both within a second.
    for replica in [&r.a, &r.b] {
        assert_eq!(r.get(replica, &alice, "/api/me").await.0, 200);
    }
    r.a.run(&["users", "suspend", "alice"], "");
    for replica in [&r.a, &r.b] {
        wait_for("alice refused", Duration::from_secs(1), || async {
            (r.get(replica, &alice, "/api/me").await.0 == 403).then_some(())
        })
        .await;
    }
    r.finish().await;
}
