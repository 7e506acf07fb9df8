//! Use-cases, one per file (`actions/<resource>/<verb>.rs`): each takes the acting user and
//! what it needs, decides who may do it, makes the writes, writes the audit entry when an
//! admin acts, and tells the actors. JSON routes and pages are thin adapters around them:
//! they parse, call an action, and render, so both transports behave alike.
//!
//! A new use-case goes here, in the file of its resource and verb; its routes and pages
//! only translate.

pub mod filters;
pub mod jobs;
pub mod rooms;
pub mod users;
pub mod videos;

use crate::auth::AuthUser;
use crate::error::ApiError;

/// Refuses anyone but an admin; `what` completes "only admins ...".
pub fn require_admin(user: &AuthUser, what: &str) -> Result<(), ApiError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("only admins {what}")))
    }
}
