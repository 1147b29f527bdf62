//! Jobs against an in-memory wallet with the gateway's charge rules, on tokio's paused clock: a job's
//! hours pass in microseconds, and the tests see every charge it made.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::{ChargeOutcome, ClientError};
use crate::protocol::{ChargeRequest, WalletOwner};

use super::run::SubmitError;
use super::{Job, JobSpec, JobState, Jobs, Wallet};

#[derive(Default)]
struct Ledger {
    balances: Mutex<HashMap<WalletOwner, i64>>,
    charges: Mutex<Vec<ChargeRequest>>,
    answered: Mutex<HashMap<String, Result<ChargeOutcome, ClientError>>>,
    failures_left: AtomicU32,
}

impl Wallet for Arc<Ledger> {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, ClientError> {
        self.charges.lock().expect("lock").push(request.clone());
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(ClientError::Transport("connection refused".into()));
        }
        let mut answered = self.answered.lock().expect("lock");
        if let Some(first) = answered.get(&request.charge_id) {
            return first.clone().map(|o| ChargeOutcome {
                duplicate: true,
                ..o
            });
        }
        let mut balances = self.balances.lock().expect("lock");
        let balance = balances.entry(request.owner.clone()).or_default();
        let units = i64::try_from(request.units).expect("units");
        let answer = if *balance >= units {
            *balance -= units;
            Ok(ChargeOutcome {
                balance: *balance,
                duplicate: false,
            })
        } else {
            Err(ClientError::PaymentRequired { balance: *balance })
        };
        answered.insert(request.charge_id.clone(), answer.clone());
        answer
    }
}

fn alice() -> WalletOwner {
    WalletOwner::Username("alice".into())
}

fn setup(balance: i64) -> (Arc<Jobs<Arc<Ledger>>>, Arc<Ledger>) {
    let ledger = Arc::new(Ledger::default());
    ledger
        .balances
        .lock()
        .expect("lock")
        .insert(alice(), balance);
    (Jobs::new("dev", Arc::clone(&ledger), 3600), ledger)
}

fn spec(duration_secs: u64, units_per_interval: u64) -> JobSpec {
    JobSpec {
        name: None,
        duration_secs,
        units_per_interval,
        interval_secs: 1,
    }
}

/// Waits (on the paused clock) until the job has ended.
async fn ended(jobs: &Jobs<Arc<Ledger>>, id: &str) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
    loop {
        let job = jobs.find(id, &alice()).expect("the job");
        if job.state != JobState::Running {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never ended: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_charges_each_interval_once_and_completes_after_its_duration() {
    let (jobs, ledger) = setup(100);
    let started = tokio::time::Instant::now();
    let job = jobs.submit(alice(), spec(3, 10)).await.expect("started");
    let done = ended(&jobs, &job.id).await;
    assert_eq!(done.state, JobState::Completed);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "ran for its duration"
    );
    assert_eq!(
        (done.intervals_charged, done.units_charged, done.balance),
        (3, 30, Some(70))
    );
    let ids: Vec<String> = ledger
        .charges
        .lock()
        .expect("lock")
        .iter()
        .map(|c| c.charge_id.clone())
        .collect();
    let expected: Vec<String> = (0..3).map(|k| format!("dev-job-{}-{k}", job.id)).collect();
    assert_eq!(ids, expected);
}

#[tokio::test(start_paused = true)]
async fn a_job_stops_at_the_first_payment_required_and_its_status_says_so() {
    let (jobs, ledger) = setup(25);
    let job = jobs.submit(alice(), spec(60, 10)).await.expect("started");
    let done = ended(&jobs, &job.id).await;
    assert_eq!(done.state, JobState::Stopped);
    assert_eq!(done.status, "stopped: insufficient funds (balance 5)");
    assert_eq!(done.intervals_charged, 2);
    assert_eq!(
        ledger.charges.lock().expect("lock").len(),
        3,
        "no charge after the 402"
    );
    assert!(
        done.log
            .iter()
            .any(|line| line.contains("charged 10 units, balance 15")),
        "{:?}",
        done.log
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_that_cannot_pay_its_first_interval_is_not_started() {
    let (jobs, _) = setup(5);
    let refused = jobs.submit(alice(), spec(60, 10)).await;
    assert!(
        matches!(refused, Err(SubmitError::PaymentRequired { balance: 5 })),
        "{refused:?}"
    );
    assert!(jobs.of(&alice()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_charge_is_retried_with_the_same_charge_id_and_charged_once() {
    let (jobs, ledger) = setup(100);
    let job = jobs.submit(alice(), spec(2, 10)).await.expect("started");
    ledger.failures_left.store(2, Ordering::SeqCst);
    let done = ended(&jobs, &job.id).await;
    assert_eq!(done.state, JobState::Completed);
    let second = format!("dev-job-{}-1", job.id);
    let tries = ledger
        .charges
        .lock()
        .expect("lock")
        .iter()
        .filter(|c| c.charge_id == second)
        .count();
    assert_eq!(tries, 3);
    assert_eq!(done.balance, Some(80));
}

#[tokio::test(start_paused = true)]
async fn a_charge_that_keeps_failing_fails_the_job_with_the_reason() {
    let (jobs, ledger) = setup(100);
    let job = jobs.submit(alice(), spec(10, 10)).await.expect("started");
    ledger.failures_left.store(u32::MAX, Ordering::SeqCst);
    let done = ended(&jobs, &job.id).await;
    assert_eq!(done.state, JobState::Failed);
    assert_eq!(
        done.status,
        "failed: could not charge the wallet: could not reach the gateway: connection refused"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_job_charges_nothing_more_and_others_cannot_see_or_cancel_it() {
    let (jobs, ledger) = setup(1_000);
    let job = jobs.submit(alice(), spec(600, 1)).await.expect("started");
    let bob = WalletOwner::Username("bob".into());
    assert!(jobs.find(&job.id, &bob).is_none());
    assert!(!jobs.cancel(&job.id, &bob));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(jobs.cancel(&job.id, &alice()));
    let charged = ledger.charges.lock().expect("lock").len();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let done = jobs.find(&job.id, &alice()).expect("still listed");
    assert_eq!(
        (done.state, done.status.as_str()),
        (JobState::Cancelled, "cancelled")
    );
    assert_eq!(ledger.charges.lock().expect("lock").len(), charged);
    assert_eq!(
        charged, 3,
        "intervals 0, 1 and 2 were paid before the cancel"
    );
}

#[tokio::test(start_paused = true)]
async fn an_impossible_job_is_refused_before_any_charge() {
    let (jobs, ledger) = setup(100);
    for bad in [
        spec(0, 1),
        spec(3601, 1),
        spec(10, 0),
        JobSpec {
            interval_secs: 0,
            ..spec(10, 1)
        },
    ] {
        let refused = jobs.submit(alice(), bad).await;
        assert!(
            matches!(refused, Err(SubmitError::Invalid(_))),
            "{refused:?}"
        );
    }
    assert!(ledger.charges.lock().expect("lock").is_empty());
}
