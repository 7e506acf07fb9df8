//! `CleanupDeletedVideos`: empties the deletion outbox (`video_del_rec`), removing each
//! deleted video's files before its record. Idempotent: a file that is already gone counts
//! as removed.

use roomcast_actors::queue::Pace;
use roomcast_actors::Job;

use crate::db::{self, DbPool};
use crate::media::storage::remove_if_exists;
use crate::media::Storage;

/// Deletions read from the database at a time (a unit of work between two breaths).
const BATCH: i64 = 500;

/// Removes the files of deleted videos, then their `video_del_rec` rows.
pub struct CleanupDeletedVideos {
    pub pool: DbPool,
    pub storage: Storage,
    /// The share of a core the run may use while it works through a backlog.
    pub cpu_share: f64,
}

impl Job for CleanupDeletedVideos {
    fn kind(&self) -> &'static str {
        "cleanup_deleted_videos"
    }

    /// Works through the whole backlog, a batch at a time; a batch with a failure ends the
    /// run (failed, for a retry) so that the same rows are not tried again at once.
    fn run(&self, _payload: &str) -> Result<String, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let mut removed = 0;
        let mut pace = Pace::new(self.cpu_share);
        loop {
            let pending =
                db::videos::pending_deletions(&mut conn, BATCH).map_err(|e| e.to_string())?;
            let mut failures = Vec::new();
            let mut cleaned = Vec::with_capacity(pending.len());
            for (id, file_name) in &pending {
                match self.remove_files(id, file_name) {
                    Ok(()) => cleaned.push(id.clone()),
                    Err(e) => failures.push(format!("video {id}: {e}")),
                }
            }
            // The records go only after their files are gone, a batch in one statement, so
            // a crash or an error before leaves them for the next run (which finds the
            // files already gone, and that counts as removed).
            removed +=
                db::videos::forget_deletions(&mut conn, &cleaned).map_err(|e| e.to_string())?;
            if let Some(first) = failures.first() {
                return Err(format!(
                    "{} of {} deletions failed and will be retried; first: {first}",
                    failures.len(),
                    pending.len()
                ));
            }
            if (pending.len() as i64) < BATCH {
                break;
            }
            pace.breathe();
        }
        Ok(format!("removed the files of {removed} deleted videos"))
    }
}

impl CleanupDeletedVideos {
    fn remove_files(&self, id: &str, file_name: &str) -> std::io::Result<()> {
        if let Some(path) = self.storage.video_file(file_name) {
            remove_if_exists(&path)?;
        }
        remove_if_exists(&self.storage.thumbnail(id))?;
        // The upload and any processing attempt's scratch files.
        for path in self.storage.tmp_files_of(id) {
            remove_if_exists(&path)?;
        }
        Ok(())
    }
}
