//! Changing an account's role (admins).

use super::not_yourself;
use crate::auth::{AuthUser, SessionService};
use crate::context::AppState;
use crate::db;
use crate::error::ApiError;

/// Makes user `id` an `admin` or a `user` for `admin` (audited); their cached sessions,
/// which carry the old role, are forgotten. 404 for an unknown user.
pub async fn set_role(
    state: &AppState,
    sessions: &SessionService,
    admin: &AuthUser,
    id: &str,
    role: &str,
) -> Result<(), ApiError> {
    crate::actions::require_admin(admin, "manage users")?;
    if !matches!(role, "admin" | "user") {
        return Err(ApiError::Invalid("role must be admin or user".into()));
    }
    if role == "user" {
        not_yourself(admin, id, "demote")?;
    }
    let (uid, r) = (id.to_string(), role.to_string());
    let found = db::blocking(&state.pool, move |c| db::users::set_role_by_id(c, &uid, &r)).await?;
    if !found {
        return Err(ApiError::NotFound(format!("no user {id}")));
    }
    sessions.forget_user(id);
    crate::audit::record(&state.pool, admin, "user.role", id, role).await;
    Ok(())
}
