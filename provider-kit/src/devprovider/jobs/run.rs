//! A job's life: the first interval is charged before the job exists (no funds, no job: the user gets
//! the gateway's `402`), then a task charges each later interval on time, retrying a failed charge
//! with the same `chargeId` (the gateway charges it once), and ends the job as completed, stopped
//! by a `402`, failed, or cancelled.

use std::sync::Arc;
use std::time::Duration;

use crate::client::{ChargeOutcome, ClientError};
use crate::protocol::{ChargeRequest, WalletOwner};
use tokio::time::Instant;

use super::{Job, JobSpec, JobState, Jobs, MAX_JOBS, Wallet};

/// Charges of a running job are tried this often before the job fails; 1+2+4+8 s apart.
const CHARGE_ATTEMPTS: u32 = 5;

/// Why a job was not started.
#[derive(Debug)]
pub enum SubmitError {
    Invalid(String),
    Busy,
    PaymentRequired { balance: i64 },
    Wallet(ClientError),
}

impl<W: Wallet> Jobs<W> {
    /// Starts a job for `owner` once its first interval is paid for.
    pub async fn submit(
        self: &Arc<Self>,
        owner: WalletOwner,
        spec: JobSpec,
    ) -> Result<Job, SubmitError> {
        spec.check(self.max_job_secs)
            .map_err(SubmitError::Invalid)?;
        self.make_room()?;
        let started = Instant::now();
        let id = crate::devprovider::random_hex();
        let first = self
            .charge(&id, &owner, &spec, 0, 1)
            .await
            .map_err(|e| match e {
                ClientError::PaymentRequired { balance } => {
                    SubmitError::PaymentRequired { balance }
                }
                other => SubmitError::Wallet(other),
            })?;
        let intervals = spec.intervals();
        let mut job = Job {
            id: id.clone(),
            owner,
            spec,
            state: JobState::Running,
            status: String::new(),
            intervals,
            intervals_charged: 0,
            units_charged: 0,
            balance: None,
            log: Vec::new(),
            seq: 0,
        };
        job.record(format!(
            "started: {} s in {intervals} intervals",
            job.spec.duration_secs
        ));
        paid(&mut job, 0, first);
        let runner = tokio::spawn(Arc::clone(self).run(id.clone(), started));
        let mut table = self.table();
        job.seq = table.next_seq;
        table.next_seq += 1;
        table.tasks.insert(id.clone(), runner.abort_handle());
        table.jobs.insert(id, job.clone());
        Ok(job)
    }

    fn make_room(&self) -> Result<(), SubmitError> {
        let mut table = self.table();
        while table.jobs.len() >= MAX_JOBS {
            let oldest_finished = table
                .jobs
                .values()
                .filter(|job| job.state != JobState::Running)
                .min_by_key(|job| job.seq)
                .map(|job| job.id.clone());
            match oldest_finished {
                Some(id) => table.jobs.remove(&id),
                None => return Err(SubmitError::Busy),
            };
        }
        Ok(())
    }

    async fn run(self: Arc<Self>, id: String, started: Instant) {
        let Some(job) = self.table().jobs.get(&id).cloned() else {
            return;
        };
        let interval = Duration::from_secs(job.spec.interval_secs);
        for k in 1..job.intervals {
            tokio::time::sleep_until(started + interval * u32::try_from(k).unwrap_or(u32::MAX))
                .await;
            match self
                .charge(&id, &job.owner, &job.spec, k, CHARGE_ATTEMPTS)
                .await
            {
                Ok(outcome) => self.running(&id, |job| paid(job, k, outcome)),
                Err(ClientError::PaymentRequired { balance }) => {
                    return self.end(&id, |job| {
                        job.balance = Some(balance);
                        let status = format!("stopped: insufficient funds (balance {balance})");
                        job.finish(JobState::Stopped, status);
                    });
                }
                Err(error) => {
                    return self.end(&id, |job| {
                        let status = format!("failed: could not charge the wallet: {error}");
                        job.finish(JobState::Failed, status);
                    });
                }
            }
        }
        tokio::time::sleep_until(started + Duration::from_secs(job.spec.duration_secs)).await;
        self.end(&id, |job| {
            job.finish(JobState::Completed, "completed".into())
        });
    }

    /// Charges interval `k` (from 0), trying `attempts` times while the failure is retryable.
    async fn charge(
        &self,
        id: &str,
        owner: &WalletOwner,
        spec: &JobSpec,
        k: u64,
        attempts: u32,
    ) -> Result<ChargeOutcome, ClientError> {
        let request = ChargeRequest {
            charge_id: format!("{}-job-{id}-{k}", self.provider_id),
            owner: owner.clone(),
            units: spec.units_per_interval,
            description: format!("job {id}: interval {} of {}", k + 1, spec.intervals()),
        };
        let mut delay = Duration::from_secs(1);
        let mut attempt = 1;
        loop {
            match self.wallet.charge(&request).await {
                Err(error) if error.is_retryable() && attempt < attempts => {
                    tracing::warn!(job = id, attempt, %error, "charge failed; retrying with the same chargeId");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Changes a job that is still running (a cancelled job stays cancelled).
    fn running(&self, id: &str, change: impl FnOnce(&mut Job)) {
        self.update(id, |job| {
            if job.state == JobState::Running {
                change(job);
            }
        });
    }

    fn end(&self, id: &str, change: impl FnOnce(&mut Job)) {
        self.running(id, change);
        self.table().tasks.remove(id);
    }
}

fn paid(job: &mut Job, k: u64, outcome: ChargeOutcome) {
    let units = job.spec.units_per_interval;
    job.intervals_charged += 1;
    job.units_charged += units;
    job.balance = Some(outcome.balance);
    job.status = format!("running (interval {} of {})", k + 1, job.intervals);
    let again = if outcome.duplicate {
        " (already charged)"
    } else {
        ""
    };
    job.record(format!(
        "interval {} of {}: charged {units} units{again}, balance {}",
        k + 1,
        job.intervals,
        outcome.balance
    ));
}
