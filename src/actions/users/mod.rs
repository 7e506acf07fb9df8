//! Users, for admins: disabling or enabling an account, changing its role.

mod disable;
mod role;

pub use disable::set_disabled;
pub use role::set_role;

use crate::auth::AuthUser;
use crate::error::ApiError;

/// An admin may not lock themself out (`what`: "disable", "demote").
fn not_yourself(admin: &AuthUser, id: &str, what: &str) -> Result<(), ApiError> {
    if admin.user_id == id {
        Err(ApiError::Forbidden(format!(
            "you cannot {what} your own account"
        )))
    } else {
        Ok(())
    }
}
