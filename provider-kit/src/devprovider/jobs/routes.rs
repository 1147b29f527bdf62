//! HTTP face of jobs: `POST/GET compute/docker/jobs`, `GET/DELETE compute/docker/jobs/{id}` and
//! `GET compute/docker/logs/{id}`. A caller sees only the jobs of the wallet it works in.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::run::SubmitError;
use super::{Job, JobSpec, Jobs, Wallet};
use crate::devprovider::accounts::Caller;
use crate::devprovider::problem::ApiProblem;

pub async fn submit<W: Wallet>(
    State(jobs): State<Arc<Jobs<W>>>,
    caller: Caller,
    spec: Result<Json<JobSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<Job>), ApiProblem> {
    let Json(spec) = spec.map_err(|e| ApiProblem::bad_request(e.body_text()))?;
    match jobs.submit(caller.wallet(), spec).await {
        Ok(job) => Ok((StatusCode::CREATED, Json(job))),
        Err(SubmitError::Invalid(why)) => Err(ApiProblem::bad_request(why)),
        Err(SubmitError::Busy) => Err(ApiProblem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "tooManyJobs",
            "this provider is running as many jobs as it can; try again later",
        )),
        Err(SubmitError::PaymentRequired { balance }) => {
            let detail = format!("the wallet holds {balance} units, less than one interval costs");
            Err(
                ApiProblem::new(StatusCode::PAYMENT_REQUIRED, "insufficientFunds", detail)
                    .with("balance", balance),
            )
        }
        Err(SubmitError::Wallet(error)) => Err(ApiProblem::new(
            StatusCode::BAD_GATEWAY,
            "walletUnavailable",
            format!("the job was not started: {error}"),
        )),
    }
}

pub async fn list<W: Wallet>(State(jobs): State<Arc<Jobs<W>>>, caller: Caller) -> Json<Value> {
    Json(json!({ "jobs": jobs.of(&caller.wallet()) }))
}

fn no_such_job(id: &str) -> ApiProblem {
    ApiProblem::not_found(format!("no job {id:?} for this user or project"))
}

pub async fn get<W: Wallet>(
    State(jobs): State<Arc<Jobs<W>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiProblem> {
    jobs.find(&id, &caller.wallet())
        .map(Json)
        .ok_or_else(|| no_such_job(&id))
}

pub async fn cancel<W: Wallet>(
    State(jobs): State<Arc<Jobs<W>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiProblem> {
    let owner = caller.wallet();
    if jobs.find(&id, &owner).is_none() {
        return Err(no_such_job(&id));
    }
    if !jobs.cancel(&id, &owner) {
        return Err(ApiProblem::new(
            StatusCode::CONFLICT,
            "jobEnded",
            "the job has already ended",
        ));
    }
    jobs.find(&id, &owner)
        .map(Json)
        .ok_or_else(|| no_such_job(&id))
}

pub async fn logs<W: Wallet>(
    State(jobs): State<Arc<Jobs<W>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiProblem> {
    let job = jobs
        .find(&id, &caller.wallet())
        .ok_or_else(|| no_such_job(&id))?;
    let mut text = job.log.join("\n");
    text.push('\n');
    Ok(([("content-type", "text/plain; charset=utf-8")], text).into_response())
}
