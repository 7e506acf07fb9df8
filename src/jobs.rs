//! The app's side of the periodic jobs: storage for the job types of `roomcast-actors`,
//! implemented over the database, and the node's list of schedules.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use roomcast_actors::jobs::{DeleteExpiredSessions, SessionStore};
use roomcast_actors::Schedule;

use crate::db::{self, DbPool};

/// How often expired sessions are deleted.
const SESSION_REAP_EVERY: Duration = Duration::from_secs(300);

/// `SessionStore` over the database pool.
pub struct DbSessionStore {
    pub pool: DbPool,
}

impl SessionStore for DbSessionStore {
    fn delete_expired_sessions(&self) -> Result<usize, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        db::sessions::delete_expired(&mut conn, Utc::now().naive_utc()).map_err(|e| e.to_string())
    }
}

/// Every periodic job this node runs.
pub fn schedules(pool: &DbPool) -> Vec<Schedule> {
    vec![Schedule {
        job: Arc::new(DeleteExpiredSessions {
            store: Arc::new(DbSessionStore { pool: pool.clone() }),
        }),
        every: SESSION_REAP_EVERY,
    }]
}
