//! `DeleteExpiredSessions`: removes sessions whose lifetime has ended (the seed's reaper).

use std::sync::Arc;

use crate::queue::Job;

/// What the job needs from storage; the app implements it over its database.
pub trait SessionStore: Send + Sync + 'static {
    /// Deletes every expired session and returns how many there were. Blocking.
    fn delete_expired_sessions(&self) -> Result<usize, String>;
}

/// Deletes expired sessions. Idempotent: a second run finds nothing to delete.
pub struct DeleteExpiredSessions {
    pub store: Arc<dyn SessionStore>,
}

impl Job for DeleteExpiredSessions {
    fn kind(&self) -> &'static str {
        "delete_expired_sessions"
    }

    fn run(&self, _payload: &str) -> Result<String, String> {
        let deleted = self.store.delete_expired_sessions()?;
        Ok(format!("deleted {deleted} expired sessions"))
    }
}
