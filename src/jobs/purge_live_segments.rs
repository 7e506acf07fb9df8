//! `PurgeLiveSegments`: removes the HLS folders (`storage.dir/live/{room}/`) of rooms that are
//! no longer live: the room is gone or has no source any more, or nothing in its folder has
//! been written for `IDLE` (its source has been down or stopped that long). A running
//! pipeline writes a segment every second, and a pipeline that starts again makes its
//! folder anew, so removing an idle folder never harms a live room.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use roomcast_actors::Job;

use crate::db::{self, DbPool};
use crate::media::storage::is_plain_name;
use crate::media::Storage;

/// A folder untouched this long belongs to a room that is not live.
const IDLE: Duration = Duration::from_secs(600);

pub struct PurgeLiveSegments {
    pub pool: DbPool,
    pub storage: Storage,
}

impl Job for PurgeLiveSegments {
    fn kind(&self) -> &'static str {
        "purge_live_segments"
    }

    fn run(&self, _payload: &str) -> Result<String, String> {
        let dir = self.storage.live_dir();
        let folders = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok("no live folder".into())
            }
            Err(e) => return Err(format!("reading {}: {e}", dir.display())),
        };
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let with_source: HashSet<String> = db::rooms::with_source_ids(&mut conn)
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let now = SystemTime::now();
        let (mut removed, mut kept) = (0, 0);
        for entry in folders {
            let entry = entry.map_err(|e| e.to_string())?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !is_plain_name(&name) || !path.is_dir() {
                continue;
            }
            let idle = last_write(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?
                .map(|t| now.duration_since(t).unwrap_or_default() >= IDLE)
                .unwrap_or(true);
            if !with_source.contains(&name) || idle {
                match std::fs::remove_dir_all(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("removing {}: {e}", path.display())),
                }
            } else {
                kept += 1;
            }
        }
        Ok(format!("removed {removed} live folders, kept {kept}"))
    }
}

/// The newest modification time among a folder and its files.
fn last_write(dir: &Path) -> std::io::Result<Option<SystemTime>> {
    let mut newest = std::fs::metadata(dir)?.modified().ok();
    for entry in std::fs::read_dir(dir)? {
        let Ok(meta) = entry?.metadata() else {
            continue; // removed by ffmpeg meanwhile
        };
        if let Ok(t) = meta.modified() {
            newest = Some(newest.map_or(t, |n| n.max(t)));
        }
    }
    Ok(newest)
}
