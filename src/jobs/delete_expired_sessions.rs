//! `DeleteExpiredSessions`: removes sessions whose lifetime has ended (the seed's reaper).
//! Idempotent: a second run finds nothing to delete.

use chrono::Utc;
use roomcast_actors::Job;

use crate::db::{self, DbPool};

pub struct DeleteExpiredSessions {
    pub pool: DbPool,
}

impl DeleteExpiredSessions {
    /// Deletes every session expired by now; returns how many there were. Blocking.
    pub fn delete_now(&self) -> Result<usize, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        db::sessions::delete_expired(&mut conn, Utc::now().naive_utc()).map_err(|e| e.to_string())
    }
}

impl Job for DeleteExpiredSessions {
    fn kind(&self) -> &'static str {
        "delete_expired_sessions"
    }

    fn run(&self, _payload: &str) -> Result<String, String> {
        let deleted = self.delete_now()?;
        Ok(format!("deleted {deleted} expired sessions"))
    }
}
