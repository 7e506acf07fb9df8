//! `ProcessUpload`: turns a probed upload into a served video, as a job of the queue.
//!
//! For the video in its payload (`{"video": id}`, enqueued when the upload is accepted) it
//! remuxes MP4 files whose index (`moov`) sits after the media to faststart, makes a poster
//! frame, and renames the file into `videos/`; then it marks the video `ready`, or `failed`
//! with the reason. Every step is blocking (ffmpeg, file I/O, queries), so it runs on a job
//! thread. Being a job makes it safe with many nodes: one node holds the lease, and a node
//! that dies mid-way leaves the job to another once the lease expires. It is idempotent: a
//! run after a crash that had already moved the file only marks the video ready.

use std::fs::File;
use std::time::Duration;

use roomcast_actors::Job;
use serde_json::json;

use crate::db::{self, DbPool};
use crate::media::mp4::{moov_placement, MoovPlacement};
use crate::media::probe::Container;
use crate::media::storage::remove_if_exists;
use crate::media::tools::ToolError;
use crate::media::{MediaTools, Storage};

/// Remuxing copies streams; a file that takes longer than this is refused.
const REMUX_LIMIT: Duration = Duration::from_secs(30 * 60);
const THUMBNAIL_LIMIT: Duration = Duration::from_secs(120);
/// Width of poster frames; the height keeps the aspect ratio.
const THUMBNAIL_WIDTH: u32 = 640;
/// The job kind.
pub const KIND: &str = "process_upload";

/// The payload of the job for video `id`.
pub fn payload(id: &str) -> String {
    json!({ "video": id }).to_string()
}

pub struct ProcessUpload {
    pub pool: DbPool,
    pub storage: Storage,
    pub tools: MediaTools,
}

/// Why processing stopped: the video cannot be served (the reason is for its owner), or
/// the machine failed us (database, disk, a killed or timed-out tool: the job is retried
/// and the upload kept).
enum Failure {
    Video(String),
    Retry(String),
}

impl Failure {
    /// A tool's failure at `step`: retried when it was the machine's fault; otherwise the
    /// owner reads `reason` and the log keeps the tool's own words.
    fn from_tool(id: &str, step: &str, reason: &str, e: ToolError) -> Self {
        if e.is_environment_fault() {
            Failure::Retry(format!("{step}: {e}"))
        } else {
            log::warn!("video {id}: {step}: {e}");
            Failure::Video(reason.to_string())
        }
    }

    /// A file operation that failed: never the video's fault (a full disk, a lost mount).
    fn io(step: &str, e: std::io::Error) -> Self {
        Failure::Retry(format!("{step}: {e}"))
    }
}

impl Job for ProcessUpload {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn concurrency(&self) -> usize {
        2
    }

    /// The uploader waits for it.
    fn background(&self) -> bool {
        false
    }

    fn run(&self, payload: &str) -> Result<String, String> {
        let parsed: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
        let Some(id) = parsed["video"].as_str() else {
            return Ok("no video given: uploads enqueue their own runs".into());
        };
        match self.process(id) {
            Ok(Some(size)) => Ok(format!("video {id}: ready ({size} bytes)")),
            Ok(None) => Ok(format!("video {id}: no longer waiting for processing")),
            Err(Failure::Retry(e)) => {
                log::warn!("video {id}: processing will be retried: {e}");
                Err(format!("video {id}: {e}"))
            }
            Err(Failure::Video(reason)) => {
                log::warn!("video {id}: processing failed: {reason}");
                self.discard(id);
                let mut conn = self.pool.get().map_err(|e| e.to_string())?;
                db::videos::mark_failed(&mut conn, id, &reason).map_err(|e| e.to_string())?;
                Ok(format!("video {id}: failed: {reason}"))
            }
        }
    }
}

impl ProcessUpload {
    /// Returns the served size, `None` if the video is not waiting (deleted meanwhile), or
    /// the reason it failed.
    fn process(&self, id: &str) -> Result<Option<u64>, Failure> {
        let db_err = |e: &dyn std::fmt::Display| Failure::Retry(format!("database: {e}"));
        let mut conn = self.pool.get().map_err(|e| db_err(&e))?;
        let Some(video) = db::videos::find(&mut conn, id).map_err(|e| db_err(&e))? else {
            return Ok(None);
        };
        if video.status != "processing" {
            return Ok(None);
        }
        drop(conn);
        let container = match video.mime.as_str() {
            "video/webm" => Container::WebM,
            "video/x-matroska" => Container::Matroska,
            _ => Container::Mp4,
        };
        let file_name = format!("{id}.{}", container.extension());
        let target = self.storage.videos_dir().join(&file_name);
        let input = self.storage.upload_input(id);
        if !input.exists() && !target.exists() {
            return Err(Failure::Video(
                "the upload was lost before it could be processed".into(),
            ));
        }
        // A run that died after moving the file into place left only the marking to do.
        if input.exists() {
            // Each attempt writes scratch files of its own: a run of an earlier process that
            // is somehow still going can never write into this one's.
            let attempt = &uuid::Uuid::new_v4().simple().to_string()[..8];
            if container == Container::Mp4 {
                self.make_faststart(id, attempt)?;
            }
            let at_ms = video.duration_ms.unwrap_or(0).clamp(0, 2000) / 2;
            self.make_thumbnail(id, attempt, at_ms)?;
            std::fs::rename(&input, &target)
                .map_err(|e| Failure::io("moving the file into place", e))?;
            self.remove_scratch(id);
        }
        let size = std::fs::metadata(&target)
            .map_err(|e| Failure::io("reading the stored file", e))?
            .len();
        let mut conn = self.pool.get().map_err(|e| db_err(&e))?;
        let ready = db::videos::mark_ready(&mut conn, id, &file_name, size as i64)
            .map_err(|e| db_err(&e))?;
        if !ready {
            // Deleted while we worked: what we just made must not outlive the row.
            let _ = remove_if_exists(&target);
            let _ = remove_if_exists(&self.storage.thumbnail(id));
            return Ok(None);
        }
        Ok(Some(size))
    }

    /// Rewrites the upload with `moov` first if it is not already.
    fn make_faststart(&self, id: &str, attempt: &str) -> Result<(), Failure> {
        let input = self.storage.upload_input(id);
        let placement = File::open(&input)
            .and_then(|mut f| moov_placement(&mut f))
            .map_err(|e| Failure::io("reading the upload", e))?;
        if placement == MoovPlacement::BeforeMdat {
            return Ok(());
        }
        let out = self
            .storage
            .scratch(id, &format!("{attempt}.faststart.mp4"));
        let (input_s, out_s) = (input.to_string_lossy(), out.to_string_lossy());
        let args = [
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            &input_s,
            "-map",
            "0:v",
            "-map",
            "0:a?",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            &out_s,
        ];
        let result = self.tools.ffmpeg(&args, REMUX_LIMIT);
        if let Err(e) = result {
            let _ = remove_if_exists(&out);
            return Err(Failure::from_tool(
                id,
                "remuxing to faststart",
                "its streams could not be rewritten into a playable MP4",
                e,
            ));
        }
        std::fs::rename(&out, &input).map_err(|e| Failure::io("replacing the upload", e))
    }

    /// Writes the poster frame at `at_ms` to `thumbs/{id}.jpg`.
    fn make_thumbnail(&self, id: &str, attempt: &str, at_ms: i64) -> Result<(), Failure> {
        let input = self.storage.upload_input(id);
        let out = self.storage.scratch(id, &format!("{attempt}.thumb.jpg"));
        let at = format!("{}.{:03}", at_ms / 1000, at_ms % 1000);
        let scale = format!("scale='min({THUMBNAIL_WIDTH},iw)':-2");
        let (input_s, out_s) = (input.to_string_lossy(), out.to_string_lossy());
        let args = [
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-ss",
            &at,
            "-i",
            &input_s,
            "-frames:v",
            "1",
            "-vf",
            &scale,
            "-q:v",
            "4",
            "-f",
            "image2",
            &out_s,
        ];
        const NO_FRAME: &str = "no picture could be decoded from it";
        if let Err(e) = self.tools.ffmpeg(&args, THUMBNAIL_LIMIT) {
            let _ = remove_if_exists(&out);
            return Err(Failure::from_tool(
                id,
                "making the poster frame",
                NO_FRAME,
                e,
            ));
        }
        if !std::fs::metadata(&out).is_ok_and(|m| m.len() > 0) {
            let _ = remove_if_exists(&out);
            return Err(Failure::Video(NO_FRAME.into()));
        }
        std::fs::rename(&out, self.storage.thumbnail(id))
            .map_err(|e| Failure::io("moving the poster frame into place", e))
    }

    /// Removes the scratch files of every attempt at processing `id` (this one's are
    /// already renamed into place; others are left by runs that were cut short).
    fn remove_scratch(&self, id: &str) {
        let input = self.storage.upload_input(id);
        for path in self.storage.tmp_files_of(id) {
            if path != input {
                if let Err(e) = remove_if_exists(&path) {
                    log::warn!("video {id}: {e}");
                }
            }
        }
    }

    /// Removes everything processing made or left for a video that failed.
    fn discard(&self, id: &str) {
        let files = self.storage.tmp_files_of(id);
        for path in files.into_iter().chain([self.storage.thumbnail(id)]) {
            if let Err(e) = remove_if_exists(&path) {
                log::warn!("video {id}: {e}");
            }
        }
    }
}

/// Enqueues processing for every video left in `processing` that has no run waiting or
/// running (uploads accepted before processing was a job, or a lost enqueue).
pub async fn resume(pool: &DbPool, jobs: &crate::jobs::JobSystem) -> Result<(), db::DbError> {
    let orphans = db::blocking(pool, |conn| {
        let mut orphans = Vec::new();
        for id in db::videos::processing_ids(conn)? {
            if !db::jobs::has_pending(conn, KIND, &payload(&id))? {
                orphans.push(id);
            }
        }
        Ok(orphans)
    })
    .await?;
    for id in orphans {
        log::info!("video {id}: resuming processing");
        jobs.enqueue(KIND, &payload(&id)).await?;
    }
    Ok(())
}
