//! Disabling or enabling an account (admins).

use super::not_yourself;
use crate::auth::{AuthUser, SessionService};
use crate::context::AppState;
use crate::error::ApiError;

/// Disables (or enables) user `id` for `admin` (audited). Disabling deletes every session of
/// the user and closes their sockets on every node. 404 for an unknown user.
pub async fn set_disabled(
    state: &AppState,
    sessions: &SessionService,
    admin: &AuthUser,
    id: &str,
    disabled: bool,
) -> Result<(), ApiError> {
    crate::actions::require_admin(admin, "manage users")?;
    if disabled {
        not_yourself(admin, id, "disable")?;
    }
    if !crate::accounts::set_disabled(&state.pool, sessions, &state.rooms, id, disabled).await? {
        return Err(ApiError::NotFound(format!("no user {id}")));
    }
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    crate::audit::record(&state.pool, admin, action, id, "").await;
    Ok(())
}
