//! `SweepOrphanFiles`: removes what no row accounts for (files of videos that are gone),
//! abandoned upload bodies and processing scratch files, and expired resumable uploads.
//! Idempotent: a file that is already gone counts as removed. Start-up uses the same
//! rules (`remove_abandoned`).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use roomcast_actors::Job;

use crate::db::{self, DbPool};
use crate::media::storage::remove_if_exists;
use crate::media::Storage;

/// Video ids looked up in the database at a time.
const BATCH: usize = 500;
/// Temporary files untouched this long are abandoned uploads.
const TMP_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Files this recent may belong to work in progress and are left alone.
const GRACE: Duration = Duration::from_secs(60);
/// An upload body (`*.part`) or a processing scratch file that has not grown for this long
/// belongs to nobody: a live upload's body writes at least every `stream.write_timeout_secs`
/// (or is cut off), and a running remux writes as it goes.
const ABANDONED_AFTER: Duration = Duration::from_secs(120);

/// Removes files with no video row behind them, temporary files older than a day, and
/// resumable uploads past their expiry.
pub struct SweepOrphanFiles {
    pub pool: DbPool,
    pub storage: Storage,
    pub resumable_expiry: Duration,
}

impl Job for SweepOrphanFiles {
    fn kind(&self) -> &'static str {
        "sweep_orphan_files"
    }

    fn run(&self, _payload: &str) -> Result<String, String> {
        let now = SystemTime::now();
        let mut removed = 0;
        for dir in [self.storage.videos_dir(), self.storage.thumbs_dir()] {
            removed += self.sweep_orphans(&dir, now).map_err(|e| e.to_string())?;
        }
        removed += remove_abandoned(&self.storage, now).map_err(|e| e.to_string())?;
        removed += sweep_older_than(&self.storage.tmp_dir(), TMP_MAX_AGE, now)
            .map_err(|e| e.to_string())?;
        removed += sweep_resumable(&self.storage.resumable_dir(), self.resumable_expiry, now)
            .map_err(|e| e.to_string())?;
        Ok(format!("removed {removed} orphan or expired files"))
    }
}

impl SweepOrphanFiles {
    /// Removes files in `dir` named after a video that is neither processing nor ready.
    fn sweep_orphans(&self, dir: &Path, now: SystemTime) -> std::io::Result<usize> {
        let files = old_files(dir, GRACE, now)?;
        let mut removed = 0;
        for chunk in files.chunks(BATCH) {
            let ids: Vec<String> = chunk.iter().map(|f| f.id.clone()).collect();
            let mut conn = self.pool.get().map_err(std::io::Error::other)?;
            let live: HashSet<String> = db::videos::live_ids(&mut conn, &ids)
                .map_err(std::io::Error::other)?
                .into_iter()
                .collect();
            for Found { path, id, .. } in chunk {
                if !live.contains(id) && remove_if_exists(path)? {
                    log::info!("sweep: removed orphan {}", path.display());
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// A file found by a sweep.
struct Found {
    path: std::path::PathBuf,
    /// What its name starts with (a video's or an upload's id).
    id: String,
    modified: SystemTime,
}

/// Plain files in `dir` not modified for `age`.
fn old_files(dir: &Path, age: Duration, now: SystemTime) -> std::io::Result<Vec<Found>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let modified = meta.modified()?;
        if !meta.is_file() || now.duration_since(modified).unwrap_or_default() < age {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let id = name.split('.').next().unwrap_or_default().to_string();
        found.push(Found {
            path: entry.path(),
            id,
            modified,
        });
    }
    Ok(found)
}

/// Removes upload bodies and processing scratch files in `tmp/` left by an interrupted
/// request or a crashed process (run at start-up and by the sweep). Uploads waiting for
/// processing (`{id}.upload`) are kept: they may wait in the queue untouched.
pub fn remove_abandoned(storage: &Storage, now: SystemTime) -> std::io::Result<usize> {
    remove_idle(storage, ABANDONED_AFTER, now)
}

/// `remove_abandoned` for a node that is alone on its storage, at start-up: nothing can be
/// in flight yet, so every upload body and scratch file is abandoned.
pub fn remove_all_abandoned(storage: &Storage, now: SystemTime) -> std::io::Result<usize> {
    remove_idle(storage, Duration::ZERO, now)
}

fn remove_idle(storage: &Storage, idle: Duration, now: SystemTime) -> std::io::Result<usize> {
    let mut removed = 0;
    for Found { path, .. } in old_files(&storage.tmp_dir(), idle, now)? {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // `{uuid}.part`, or `{id}.{attempt}.{what}` written by processing.
        let abandoned = name.ends_with(".part") || name.split('.').count() >= 3;
        if abandoned && remove_if_exists(&path)? {
            log::info!("removed abandoned {}", path.display());
            removed += 1;
        }
    }
    Ok(removed)
}

fn sweep_older_than(dir: &Path, age: Duration, now: SystemTime) -> std::io::Result<usize> {
    let mut removed = 0;
    for Found { path, .. } in old_files(dir, age, now)? {
        if remove_if_exists(&path)? {
            log::info!("sweep: removed stale {}", path.display());
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes resumable uploads (both their files) with no activity for `expiry`. Activity is
/// the newer of the two files' times: the data file changes with every PATCH.
fn sweep_resumable(dir: &Path, expiry: Duration, now: SystemTime) -> std::io::Result<usize> {
    let files = old_files(dir, Duration::ZERO, now)?;
    let mut latest: std::collections::HashMap<&str, SystemTime> = Default::default();
    for f in &files {
        let entry = latest.entry(f.id.as_str()).or_insert(f.modified);
        *entry = (*entry).max(f.modified);
    }
    let mut removed = 0;
    for Found { path, id, .. } in &files {
        let idle = now.duration_since(latest[id.as_str()]).unwrap_or_default();
        if idle >= expiry && remove_if_exists(path)? {
            log::info!("sweep: removed expired resumable upload {}", path.display());
            removed += 1;
        }
    }
    Ok(removed)
}
