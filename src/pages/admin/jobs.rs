//! `/admin/jobs`: the schedules (period, next run, last run; run now, pause, resume) and the
//! recent runs (state, attempts, result or error; retry of dead jobs). The runs table is kept
//! current by `static/admin.js` from `GET /api/admin/jobs`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{gate, gate_post, CsrfOnly};
use crate::actions::jobs;
use crate::auth::PageUser;
use crate::context::AppState;
use crate::db::{self, jobs::JobRow, jobs::ScheduleRow};
use crate::error::PageError;
use crate::pages::{render, see_other, Layout};

pub struct ScheduleEntry {
    pub schedule: ScheduleRow,
    pub last: Option<JobRow>,
}

#[derive(Template)]
#[template(path = "admin_jobs.html")]
pub struct JobsPage {
    pub layout: Layout,
    pub schedules: Vec<ScheduleEntry>,
    pub runs: Vec<JobRow>,
}

impl JobsPage {
    pub fn when(&self, t: &chrono::NaiveDateTime) -> String {
        super::when(t)
    }

    pub fn short<'a>(&self, id: &'a str) -> &'a str {
        id.get(..8).unwrap_or(id)
    }
}

/// `GET /admin/jobs`
pub async fn page(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let user = gate(user)?;
    let kinds = state.jobs.kinds().to_vec();
    let (schedules, runs) = db::blocking(&state.pool, move |c| {
        Ok((
            db::jobs::schedules_with_last_run(c, &kinds)?,
            db::jobs::recent(c, None, 50)?,
        ))
    })
    .await?;
    let schedules = schedules
        .into_iter()
        .map(|(schedule, last)| ScheduleEntry { schedule, last })
        .collect();
    let page = JobsPage {
        layout: Layout::new(Some(user), "Jobs"),
        schedules,
        runs,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// `POST /admin/jobs/{kind}/run`
pub async fn run_now(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    kind: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let user = gate_post(&req, user, &form.csrf_token)?;
    let id = jobs::run_now(&state, &user, &kind).await?;
    Ok(see_other(&format!("/admin/jobs#job-{id}")).finish())
}

/// `POST /admin/jobs/{kind}/pause`
pub async fn pause(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    kind: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_paused(req, state, user, kind.into_inner(), form.into_inner(), true).await
}

/// `POST /admin/jobs/{kind}/resume`
pub async fn resume(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    kind: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_paused(
        req,
        state,
        user,
        kind.into_inner(),
        form.into_inner(),
        false,
    )
    .await
}

async fn set_paused(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Option<crate::auth::AuthUser>,
    kind: String,
    form: CsrfOnly,
    paused: bool,
) -> Result<HttpResponse, PageError> {
    let user = gate_post(&req, user, &form.csrf_token)?;
    jobs::set_paused(&state, &user, &kind, paused).await?;
    Ok(see_other("/admin/jobs").finish())
}

/// `POST /admin/jobs/runs/{id}/retry`
pub async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let user = gate_post(&req, user, &form.csrf_token)?;
    let job = jobs::retry_dead(&state, &user, id.into_inner()).await?;
    Ok(see_other(&format!("/admin/jobs#job-{}", job.id)).finish())
}
