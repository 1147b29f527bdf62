//! The concurrency proof of SPEC §5 on each backend: 1,000 charges from many concurrent tasks
//! against one wallet, random amounts, repeated `chargeId`s (some with a different body), and a
//! grant between two rounds. Checked from the answers alone:
//! - every `chargeId` has exactly one first answer; every repeat with the same body gets it again
//!   with `duplicate: true`; every repeat with another body gets 409;
//! - the accepted charges, ordered by the balance they left, form an exact chain from the starting
//!   balance (each left the previous balance minus its units), so they are serializable and the
//!   final balance is grants minus accepted units exactly, as `GET /api/wallets` shows;
//! - every 402 names a balance the wallet really held in that chain, smaller than its units.

use crate::accounting::{grant, provider_token};
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const TASKS: usize = 32;
const REQUESTS_PER_ROUND: usize = 500;

/// xorshift64*: a reproducible plan from a printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[derive(Clone)]
struct Request {
    charge_id: String,
    units: i64,
}

struct Answer {
    request: Request,
    status: StatusCode,
    body: Value,
}

/// Each chargeId has a true amount; about one request in 20 sends it with another amount.
fn plan(rng: &mut Rng, ids: &[(String, i64)]) -> Vec<Request> {
    (0..REQUESTS_PER_ROUND)
        .map(|_| {
            let (charge_id, units) = &ids[rng.below(ids.len() as u64) as usize];
            let units = if rng.below(20) == 0 {
                units + 1
            } else {
                *units
            };
            Request {
                charge_id: charge_id.clone(),
                units,
            }
        })
        .collect()
}

async fn fire(app: &TestApp, access: &str, requests: Vec<Request>) -> Vec<Answer> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (http, url, access) = (
            app.http.clone(),
            app.url("/api/accounting/charge"),
            access.to_owned(),
        );
        let (requests, next) = (requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while let Some(request) = requests.get(next.fetch_add(1, Ordering::SeqCst)) {
                let body = json!({ "chargeId": request.charge_id, "owner": { "username": "alice" },
                                   "units": request.units, "description": "race" });
                let r = http
                    .post(&url)
                    .bearer_auth(&access)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: Value = r.json().await.unwrap();
                answers.push(Answer {
                    request: request.clone(),
                    status,
                    body,
                });
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    answers
}

/// (status, balance) of an answer that is not a 409.
fn outcome(a: &Answer) -> (StatusCode, i64) {
    (a.status, a.body["balance"].as_i64().unwrap())
}

/// Checks one round's answers against `known` (the first answers of earlier rounds, by chargeId,
/// with the amount that won) and returns the balance the chain ends at.
fn check_round(
    start: i64,
    answers: &[Answer],
    known: &mut BTreeMap<String, (i64, StatusCode, i64)>,
) -> i64 {
    let mut by_id: BTreeMap<&str, Vec<&Answer>> = BTreeMap::new();
    for a in answers {
        assert!(
            [
                StatusCode::OK,
                StatusCode::PAYMENT_REQUIRED,
                StatusCode::CONFLICT
            ]
            .contains(&a.status),
            "{} {}",
            a.status,
            a.body
        );
        by_id.entry(&a.request.charge_id).or_default().push(a);
    }
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for (id, answers) in by_id {
        let firsts: Vec<_> = answers
            .iter()
            .filter(|a| a.status != StatusCode::CONFLICT && a.body["duplicate"] == false)
            .collect();
        let first = match known.get(id) {
            Some(&(units, status, balance)) => {
                assert!(
                    firsts.is_empty(),
                    "{id} was answered for the first time twice"
                );
                (units, status, balance)
            }
            None => {
                assert_eq!(firsts.len(), 1, "{id} needs exactly one first answer");
                let (status, balance) = outcome(firsts[0]);
                let units = firsts[0].request.units;
                if status == StatusCode::OK {
                    accepted.push((balance, units))
                } else {
                    refused.push((balance, units))
                }
                known.insert(id.to_owned(), (units, status, balance));
                (units, status, balance)
            }
        };
        for a in answers {
            if a.request.units == first.0 {
                assert_eq!(
                    outcome(a),
                    (first.1, first.2),
                    "{id}: a retry must get the first answer"
                );
            } else {
                assert_eq!(
                    (a.status, a.body["code"].as_str()),
                    (StatusCode::CONFLICT, Some("conflict")),
                    "{id}"
                );
            }
        }
    }
    // Balances only fall within a round, so ordering by what was left gives the serial order.
    accepted.sort_by_key(|&(left, _)| std::cmp::Reverse(left));
    let mut held = vec![start];
    for (left, units) in &accepted {
        assert_eq!(
            *left,
            held[held.len() - 1] - units,
            "accepted charges must chain exactly"
        );
        held.push(*left);
    }
    for (balance, units) in &refused {
        assert!(
            held.contains(balance),
            "a 402 named balance {balance}, which the wallet never held"
        );
        assert!(
            balance < units,
            "a 402 for {units} units while {balance} were there"
        );
    }
    let end = held[held.len() - 1];
    assert!(end >= 0);
    assert!(
        !accepted.is_empty() && !refused.is_empty(),
        "the plan should exercise both answers"
    );
    end
}

async fn a_thousand_concurrent_charges_are_exact(backend: Backend) {
    let seed = u64::from_le_bytes(gateway::secrets::random_bytes::<8>()) | 1;
    eprintln!("charge race seed: {seed:#x}");
    let mut rng = Rng(seed);
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let alice = app.user("alice", false).await;
    let access = provider_token(&app, &admin, "hpc").await;
    let me = json!({ "username": "alice" });
    let ids: Vec<(String, i64)> = (0..400)
        .map(|i| (format!("job-{i}"), 1 + rng.below(40) as i64))
        .collect();
    let mut known = BTreeMap::new();

    // Round one: about 200 distinct ids of about 20 units each against 2,000 units.
    grant(&app, &admin, me.clone(), "hpc", 2_000).await;
    let round = plan(&mut rng, &ids[..200]);
    let end = check_round(2_000, &fire(&app, &access, round).await, &mut known);

    // Round two, after a grant: new ids, and replays of round one's (402s included) that must
    // still get their first answers.
    let wallet = grant(&app, &admin, me.clone(), "hpc", 2_000).await;
    assert_eq!(wallet["balance"], end + 2_000);
    let round = plan(&mut rng, &ids[100..]);
    let end = check_round(end + 2_000, &fire(&app, &access, round).await, &mut known);

    let accepted: i64 = known
        .values()
        .filter(|(_, s, _)| *s == StatusCode::OK)
        .map(|(u, _, _)| u)
        .sum();
    assert_eq!(
        end,
        4_000 - accepted,
        "final balance = grants - accepted charges"
    );
    assert_eq!(
        crate::accounting::balance(&app, &alice, &me, "hpc").await,
        Some(end)
    );
    app.stop().await;
}

mod race {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        a_thousand_concurrent_charges_are_exact(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        a_thousand_concurrent_charges_are_exact(Backend::Postgres).await
    }
}
