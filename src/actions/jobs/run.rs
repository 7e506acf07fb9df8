//! Running a job kind now (admins).

use crate::auth::AuthUser;
use crate::context::AppState;
use crate::error::ApiError;

/// Enqueues a run of `kind` now for `admin` (audited); returns the run's id.
pub async fn run_now(state: &AppState, admin: &AuthUser, kind: &str) -> Result<String, ApiError> {
    crate::actions::require_admin(admin, "manage jobs")?;
    let id = state
        .jobs
        .enqueue(kind, "{}")
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job kind {kind:?}")))?;
    crate::audit::record(&state.pool, admin, "job.run", kind, &format!("job {id}")).await;
    Ok(id)
}
