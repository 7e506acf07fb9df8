//! `/api/admin/jobs`: the job queue for admins. Schedules with their next run and pause
//! state, queue depth by state, recent runs; run any kind now, look at one run, retry a dead
//! job, pause and resume a schedule. Everyone else gets 403.

use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{AuthUser, CurrentUser};
use crate::db::{self, jobs::JobRow};
use crate::error::ApiError;
use crate::startup::AppState;

/// Recent runs listed by `GET /api/admin/jobs`.
const RECENT: i64 = 50;

fn admin_only(user: &AuthUser) -> Result<(), ApiError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only admins manage jobs".into()))
    }
}

fn time(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn job_json(job: &JobRow) -> Value {
    json!({
        "id": job.id,
        "kind": job.kind,
        "payload": serde_json::from_str::<Value>(&job.payload).unwrap_or(Value::Null),
        "state": job.state,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": time(job.run_at),
        "locked_by": job.locked_by,
        "locked_until": job.locked_until.map(time),
        "last_error": job.last_error,
        "result": job.result,
        "created_at": time(job.created_at),
        "started_at": job.started_at.map(time),
        "finished_at": job.finished_at.map(time),
    })
}

/// `GET /api/admin/jobs?state=`
pub async fn overview(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: web::Query<Filter>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&user)?;
    Ok(HttpResponse::Ok().json(overview_json(&state, query.into_inner().state).await?))
}

#[derive(Deserialize)]
pub struct Filter {
    state: Option<String>,
}

/// Schedules, queue depth and recent runs, as the API and the admin panel show them.
pub async fn overview_json(state: &AppState, filter: Option<String>) -> Result<Value, ApiError> {
    let kinds = state.jobs.kinds().to_vec();
    let (schedules, counts, recent) = db::blocking(&state.pool, move |conn| {
        let schedules = db::jobs::schedules_with_last_run(conn, &kinds)?;
        let counts = db::jobs::count_by_state(conn)?;
        let recent = db::jobs::recent(conn, filter.as_deref(), RECENT)?;
        Ok((schedules, counts, recent))
    })
    .await?;
    Ok(json!({
        "worker": state.jobs.worker_id,
        "schedules": schedules.iter().map(|(s, last)| json!({
            "kind": s.kind,
            "every_secs": s.every_secs,
            "paused": s.paused,
            "next_run_at": time(s.next_run_at),
            "last_run": last.as_ref().map(job_json),
        })).collect::<Vec<_>>(),
        "queue": queue_json(counts),
        "recent": recent.iter().map(job_json).collect::<Vec<_>>(),
    }))
}

/// Jobs per state, every state present (0 when none).
pub fn queue_json(counts: Vec<(String, i64)>) -> Value {
    let mut queue = json!({"queued": 0, "running": 0, "failed": 0, "done": 0, "dead": 0});
    for (state, n) in counts {
        queue[state] = json!(n);
    }
    queue
}

/// `POST /api/admin/jobs/{kind}/run` -> 202 `{job_id}`
pub async fn run_now(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    kind: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&user)?;
    let id = state
        .jobs
        .enqueue(&kind, "{}")
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job kind {:?}", kind.as_str())))?;
    crate::audit::record(&state, &user, "job.run", &kind, &format!("job {id}")).await;
    Ok(HttpResponse::Accepted().json(json!({"job_id": id})))
}

/// `GET /api/admin/jobs/runs/{id}`
pub async fn show_run(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&user)?;
    let id = id.into_inner();
    let job = db::blocking(&state.pool, move |conn| db::jobs::find(conn, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such job".into()))?;
    Ok(HttpResponse::Ok().json(job_json(&job)))
}

/// `POST /api/admin/jobs/runs/{id}/retry`: a dead job is queued again with fresh attempts.
pub async fn retry(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&user)?;
    let job = retry_dead(&state, id.into_inner()).await?;
    crate::audit::record(
        &state,
        &user,
        "job.retry",
        &job.kind,
        &format!("job {}", job.id),
    )
    .await;
    Ok(HttpResponse::Accepted().json(job_json(&job)))
}

/// Puts a dead job back in the queue and wakes the worker.
pub async fn retry_dead(state: &AppState, id: String) -> Result<JobRow, ApiError> {
    let (retried, job) = db::blocking(&state.pool, move |conn| {
        let retried = db::jobs::retry_dead(conn, &id, chrono::Utc::now().naive_utc())?;
        Ok((retried, db::jobs::find(conn, &id)?))
    })
    .await?;
    let job = job.ok_or_else(|| ApiError::NotFound("no such job".into()))?;
    if !retried {
        return Err(ApiError::Conflict(format!(
            "only a dead job can be retried; this one is {}",
            job.state
        )));
    }
    state.jobs.wake();
    Ok(job)
}

/// `POST /api/admin/jobs/{kind}/pause` and `/resume`.
pub async fn pause(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    kind: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_paused(state, user, kind.into_inner(), true).await
}

pub async fn resume(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    kind: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_paused(state, user, kind.into_inner(), false).await
}

async fn set_paused(
    state: web::Data<AppState>,
    user: AuthUser,
    kind: String,
    paused: bool,
) -> Result<HttpResponse, ApiError> {
    admin_only(&user)?;
    pause_schedule(&state, &kind, paused).await?;
    let action = if paused {
        "schedule.pause"
    } else {
        "schedule.resume"
    };
    crate::audit::record(&state, &user, action, &kind, "").await;
    Ok(HttpResponse::Ok().json(json!({"kind": kind, "paused": paused})))
}

/// Pauses or resumes the schedule of `kind`; 404 if there is none.
pub async fn pause_schedule(state: &AppState, kind: &str, paused: bool) -> Result<(), ApiError> {
    let known = state.jobs.kinds().contains(&kind);
    let name = kind.to_string();
    let changed = known
        && db::blocking(&state.pool, move |conn| {
            db::jobs::set_paused(conn, &name, paused)
        })
        .await?;
    if changed {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no schedule {kind:?}")))
    }
}
