//! Retrying a dead job (admins).

use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, jobs::JobRow};
use crate::error::ApiError;

/// Puts dead job `id` back in the queue with fresh attempts for `admin` (audited) and wakes
/// the worker. 409 for a job that is not dead.
pub async fn retry_dead(
    state: &AppState,
    admin: &AuthUser,
    id: String,
) -> Result<JobRow, ApiError> {
    crate::actions::require_admin(admin, "manage jobs")?;
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
    let detail = format!("job {}", job.id);
    crate::audit::record(&state.pool, admin, "job.retry", &job.kind, &detail).await;
    Ok(job)
}
