//! Jobs (`/ucloud/<id>/compute/docker/jobs`, SPEC §3 and §5): a job runs for the wall-clock time it
//! asked for and pays as it goes — the owner's wallet (the project's, for project requests) is
//! charged at the start of every interval with a `chargeId` unique to that job and interval, and
//! the job stops at the first `402`, saying so in its status.

mod routes;
mod run;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::client::{ChargeOutcome, ClientError, GatewayClient};
use crate::protocol::{ChargeRequest, WalletOwner};
use serde::{Deserialize, Serialize};

pub use routes::{cancel, get, list, logs, submit};

/// What charges a wallet: the gateway in production, a ledger in tests.
pub trait Wallet: Send + Sync + 'static {
    fn charge(
        &self,
        request: &ChargeRequest,
    ) -> impl Future<Output = Result<ChargeOutcome, ClientError>> + Send;
}

impl Wallet for GatewayClient {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, ClientError> {
        GatewayClient::charge(self, request).await
    }
}

/// What a user asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    #[serde(default)]
    pub name: Option<String>,
    /// How long the job runs, in seconds.
    pub duration_secs: u64,
    /// Units charged at the start of each interval.
    pub units_per_interval: u64,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
}

fn default_interval() -> u64 {
    1
}

impl JobSpec {
    /// Intervals the job pays for: the last one may be shorter.
    pub fn intervals(&self) -> u64 {
        self.duration_secs.div_ceil(self.interval_secs)
    }

    fn check(&self, max_secs: u64) -> Result<(), String> {
        if self.duration_secs == 0 || self.duration_secs > max_secs {
            return Err(format!("durationSecs must be 1 to {max_secs}"));
        }
        if self.interval_secs == 0 || self.interval_secs > 3600 {
            return Err("intervalSecs must be 1 to 3600".into());
        }
        if self.units_per_interval == 0 || self.units_per_interval > 1_000_000_000 {
            return Err("unitsPerInterval must be 1 to 1000000000".into());
        }
        if self.name.as_ref().is_some_and(|n| n.chars().count() > 100) {
            return Err("name may have at most 100 characters".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum JobState {
    Running,
    Completed,
    Stopped,
    Failed,
    Cancelled,
}

/// A job as its owner sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub owner: WalletOwner,
    #[serde(flatten)]
    pub spec: JobSpec,
    pub state: JobState,
    /// One line for people: `running (interval 2 of 10)`, `stopped: insufficient funds (balance 5)`.
    pub status: String,
    pub intervals: u64,
    pub intervals_charged: u64,
    pub units_charged: u64,
    /// The wallet's balance after the last charge the gateway answered.
    pub balance: Option<i64>,
    #[serde(skip)]
    pub log: Vec<String>,
    #[serde(skip)]
    seq: u64,
}

impl Job {
    fn record(&mut self, line: String) {
        const MAX_LOG_LINES: usize = 1_000;
        if self.log.len() == MAX_LOG_LINES {
            self.log.remove(0);
        }
        self.log.push(line);
    }

    fn finish(&mut self, state: JobState, status: String) {
        self.record(status.clone());
        self.state = state;
        self.status = status;
    }
}

/// The jobs of this process and the wallet they charge.
pub struct Jobs<W> {
    provider_id: String,
    wallet: W,
    max_job_secs: u64,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    jobs: HashMap<String, Job>,
    tasks: HashMap<String, tokio::task::AbortHandle>,
    next_seq: u64,
}

/// Jobs kept in memory; beyond this, the oldest finished ones are forgotten.
const MAX_JOBS: usize = 1_000;

impl<W: Wallet> Jobs<W> {
    pub fn new(provider_id: impl Into<String>, wallet: W, max_job_secs: u64) -> Arc<Self> {
        Arc::new(Self {
            provider_id: provider_id.into(),
            wallet,
            max_job_secs,
            table: Mutex::new(Table::default()),
        })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of job `id` if `owner` may see it.
    pub fn find(&self, id: &str, owner: &WalletOwner) -> Option<Job> {
        self.table()
            .jobs
            .get(id)
            .filter(|job| &job.owner == owner)
            .cloned()
    }

    /// The jobs `owner` may see, oldest first.
    pub fn of(&self, owner: &WalletOwner) -> Vec<Job> {
        let mut jobs: Vec<Job> = self
            .table()
            .jobs
            .values()
            .filter(|job| &job.owner == owner)
            .cloned()
            .collect();
        jobs.sort_by_key(|job| job.seq);
        jobs
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Job)) {
        if let Some(job) = self.table().jobs.get_mut(id) {
            change(job);
        }
    }

    /// Stops a running job; `false` if `owner` has no such job or it had already ended.
    pub fn cancel(&self, id: &str, owner: &WalletOwner) -> bool {
        let mut table = self.table();
        let Some(job) = table.jobs.get_mut(id).filter(|job| &job.owner == owner) else {
            return false;
        };
        if job.state != JobState::Running {
            return false;
        }
        job.finish(JobState::Cancelled, "cancelled".into());
        if let Some(task) = table.tasks.remove(id) {
            task.abort();
        }
        true
    }

    /// Stops every running job (shutdown).
    pub fn cancel_all(&self) {
        let mut table = self.table();
        for (_, task) in table.tasks.drain() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
