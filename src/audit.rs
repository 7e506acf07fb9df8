//! The audit log: every admin action is written down with who did it, to what, and when,
//! and the admin panel shows it. A failure to write is logged and does not undo the action
//! (the action has already happened).

use chrono::Utc;

use crate::auth::AuthUser;
use crate::db::{self, DbPool};

/// Records that `user` did `action` (`job.run`, `user.disable`, ...) to `target`.
pub async fn record(pool: &DbPool, user: &AuthUser, action: &str, target: &str, detail: &str) {
    let (id, name) = (user.user_id.clone(), user.username.clone());
    let (action, target, detail) = (action.to_string(), target.to_string(), detail.to_string());
    log::info!("audit: {name} {action} {target} {detail}");
    let written = db::blocking(pool, move |conn| {
        db::audit::insert(
            conn,
            &id,
            &name,
            &action,
            &target,
            &detail,
            Utc::now().naive_utc(),
        )
    })
    .await;
    if let Err(e) = written {
        log::error!("writing the audit log: {e}");
    }
}
