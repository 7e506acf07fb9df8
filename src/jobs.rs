//! The app's side of the periodic jobs: storage for the job types of `roomcast-actors`,
//! implemented over the database, and the node's list of schedules.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use roomcast_actors::jobs::{DeleteExpiredSessions, SessionStore};
use roomcast_actors::Schedule;

use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::media::Storage;
use crate::videos::cleanup::{CleanupDeletedVideos, SweepOrphanFiles};

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
pub fn schedules(pool: &DbPool, settings: &Settings, storage: &Storage) -> Vec<Schedule> {
    let secs = Duration::from_secs;
    vec![
        Schedule {
            job: Arc::new(DeleteExpiredSessions {
                store: Arc::new(DbSessionStore { pool: pool.clone() }),
            }),
            every: SESSION_REAP_EVERY,
        },
        Schedule {
            job: Arc::new(CleanupDeletedVideos {
                pool: pool.clone(),
                storage: storage.clone(),
            }),
            every: secs(settings.jobs.cleanup_deleted_videos_secs),
        },
        Schedule {
            job: Arc::new(SweepOrphanFiles {
                pool: pool.clone(),
                storage: storage.clone(),
                resumable_expiry: secs(settings.upload.resumable_expiry_secs),
            }),
            every: secs(settings.jobs.sweep_orphan_files_secs),
        },
    ]
}
