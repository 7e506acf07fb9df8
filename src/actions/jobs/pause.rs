//! Pausing and resuming a job kind's schedule (admins).

use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db;
use crate::error::ApiError;

/// Pauses or resumes the schedule of `kind` for `admin` (audited); 404 if there is none.
pub async fn set_paused(
    state: &AppState,
    admin: &AuthUser,
    kind: &str,
    paused: bool,
) -> Result<(), ApiError> {
    crate::actions::require_admin(admin, "manage jobs")?;
    let known = state.jobs.kinds().contains(&kind);
    let name = kind.to_string();
    let changed = known
        && db::blocking(&state.pool, move |conn| {
            db::jobs::set_paused(conn, &name, paused)
        })
        .await?;
    if !changed {
        return Err(ApiError::NotFound(format!("no schedule {kind:?}")));
    }
    let action = if paused {
        "schedule.pause"
    } else {
        "schedule.resume"
    };
    crate::audit::record(&state.pool, admin, action, kind, "").await;
    Ok(())
}
