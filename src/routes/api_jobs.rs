//! `/api/admin/jobs`: the job queue for admins. Schedules with their next run and pause
//! state, queue depth by state, recent runs; run any kind now, look at one run, retry a dead
//! job, pause and resume a schedule. Everyone else gets 403.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::actions::jobs::{self, job_json, queue_json};
use crate::auth::{AuthUser, CurrentUser};
use crate::context::AppState;
use crate::db;
use crate::error::ApiError;

/// Recent runs listed by `GET /api/admin/jobs`.
const RECENT: i64 = 50;

fn admin_only(user: &AuthUser) -> Result<(), ApiError> {
    crate::actions::require_admin(user, "manage jobs")
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
            "next_run_at": jobs::timestamp(s.next_run_at),
            "last_run": last.as_ref().map(job_json),
        })).collect::<Vec<_>>(),
        "queue": queue_json(counts),
        "recent": recent.iter().map(job_json).collect::<Vec<_>>(),
    }))
}

/// `POST /api/admin/jobs/{kind}/run` -> 202 `{job_id}`
pub async fn run_now(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    kind: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = jobs::run_now(&state, &user, &kind).await?;
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
    let job = jobs::retry_dead(&state, &user, id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(job_json(&job)))
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
    jobs::set_paused(&state, &user, &kind, paused).await?;
    Ok(HttpResponse::Ok().json(json!({"kind": kind, "paused": paused})))
}
