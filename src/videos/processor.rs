//! `VideoProcessor`: turns a probed upload into a served video, on its own threads.
//!
//! For each video in `processing` it remuxes MP4 files whose index (`moov`) sits after the
//! media to faststart, makes a poster frame, and renames the file into `videos/`; then it
//! marks the video `ready`, or `failed` with the reason. Every step is blocking (ffmpeg,
//! file I/O, queries), which is why this is a `SyncArbiter` actor. Videos left in
//! `processing` by a crash are sent again at start-up.

use std::fs::File;
use std::time::Duration;

use actix::prelude::*;

use crate::db::{self, DbPool};
use crate::media::mp4::{moov_placement, MoovPlacement};
use crate::media::probe::Container;
use crate::media::storage::remove_if_exists;
use crate::media::{MediaTools, Storage};

/// Remuxing copies streams; a file that takes longer than this is refused.
const REMUX_LIMIT: Duration = Duration::from_secs(30 * 60);
const THUMBNAIL_LIMIT: Duration = Duration::from_secs(120);
/// Width of poster frames; the height keeps the aspect ratio.
const THUMBNAIL_WIDTH: u32 = 640;

/// Processes the upload of this video.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessVideo {
    /// The video's id; its upload is `tmp/{id}.upload`.
    pub id: String,
}

pub struct VideoProcessor {
    pub pool: DbPool,
    pub storage: Storage,
    pub tools: MediaTools,
}

impl Actor for VideoProcessor {
    type Context = SyncContext<Self>;
}

impl Handler<ProcessVideo> for VideoProcessor {
    type Result = ();

    fn handle(&mut self, msg: ProcessVideo, _: &mut SyncContext<Self>) {
        let id = msg.id;
        match self.process(&id) {
            Ok(Some(size)) => log::info!("video {id}: ready ({size} bytes)"),
            Ok(None) => log::info!("video {id}: no longer waiting for processing"),
            Err(reason) => {
                log::warn!("video {id}: processing failed: {reason}");
                self.discard(&id);
                match self.pool.get() {
                    Ok(mut conn) => {
                        if let Err(e) = db::videos::mark_failed(&mut conn, &id, &reason) {
                            log::error!("video {id}: recording the failure: {e}");
                        }
                    }
                    Err(e) => log::error!("video {id}: recording the failure: {e}"),
                }
            }
        }
    }
}

impl VideoProcessor {
    /// Returns the served size, `None` if the video is not waiting (deleted meanwhile), or
    /// the reason it failed.
    fn process(&self, id: &str) -> Result<Option<u64>, String> {
        let mut conn = self.pool.get().map_err(|e| format!("database: {e}"))?;
        let Some(video) = db::videos::find(&mut conn, id).map_err(|e| format!("database: {e}"))?
        else {
            return Ok(None);
        };
        if video.status != "processing" {
            return Ok(None);
        }
        drop(conn);
        let input = self.storage.upload_input(id);
        if !input.exists() {
            return Err("the upload was lost before it could be processed".into());
        }
        let container = match video.mime.as_str() {
            "video/webm" => Container::WebM,
            "video/x-matroska" => Container::Matroska,
            _ => Container::Mp4,
        };
        if container == Container::Mp4 {
            self.make_faststart(id)?;
        }
        let at_ms = video.duration_ms.unwrap_or(0).clamp(0, 2000) / 2;
        self.make_thumbnail(id, at_ms)?;
        let file_name = format!("{id}.{}", container.extension());
        let target = self.storage.videos_dir().join(&file_name);
        std::fs::rename(&input, &target).map_err(|e| format!("moving the file into place: {e}"))?;
        let size = std::fs::metadata(&target)
            .map_err(|e| format!("reading the stored file: {e}"))?
            .len();
        let mut conn = self.pool.get().map_err(|e| format!("database: {e}"))?;
        let ready = db::videos::mark_ready(&mut conn, id, &file_name, size as i64)
            .map_err(|e| format!("database: {e}"))?;
        if !ready {
            // Deleted while we worked: what we just made must not outlive the row.
            let _ = remove_if_exists(&target);
            let _ = remove_if_exists(&self.storage.thumbnail(id));
            return Ok(None);
        }
        Ok(Some(size))
    }

    /// Rewrites the upload with `moov` first if it is not already.
    fn make_faststart(&self, id: &str) -> Result<(), String> {
        let input = self.storage.upload_input(id);
        let placement = File::open(&input)
            .and_then(|mut f| moov_placement(&mut f))
            .map_err(|e| format!("reading the upload: {e}"))?;
        if placement == MoovPlacement::BeforeMdat {
            return Ok(());
        }
        let out = self.storage.scratch(id, "faststart.mp4");
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
            return Err(format!("remuxing to faststart: {e}"));
        }
        std::fs::rename(&out, &input).map_err(|e| format!("replacing the upload: {e}"))
    }

    /// Writes the poster frame at `at_ms` to `thumbs/{id}.jpg`.
    fn make_thumbnail(&self, id: &str, at_ms: i64) -> Result<(), String> {
        let input = self.storage.upload_input(id);
        let out = self.storage.scratch(id, "thumb.jpg");
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
        let made = self.tools.ffmpeg(&args, THUMBNAIL_LIMIT);
        let ok = made.is_ok() && std::fs::metadata(&out).is_ok_and(|m| m.len() > 0);
        if !ok {
            let _ = remove_if_exists(&out);
            let why = made
                .err()
                .map_or_else(|| "no frame was decoded".into(), |e| e.to_string());
            return Err(format!("making the poster frame: {why}"));
        }
        std::fs::rename(&out, self.storage.thumbnail(id))
            .map_err(|e| format!("moving the poster frame into place: {e}"))
    }

    /// Removes everything processing made or left for a video that failed.
    fn discard(&self, id: &str) {
        for path in [
            self.storage.upload_input(id),
            self.storage.scratch(id, "faststart.mp4"),
            self.storage.scratch(id, "thumb.jpg"),
            self.storage.thumbnail(id),
        ] {
            if let Err(e) = remove_if_exists(&path) {
                log::warn!("video {id}: {e}");
            }
        }
    }
}

/// Starts the processor on its own thread.
pub fn start(pool: &DbPool, storage: &Storage, tools: &MediaTools) -> Addr<VideoProcessor> {
    let (pool, storage, tools) = (pool.clone(), storage.clone(), tools.clone());
    SyncArbiter::start(1, move || VideoProcessor {
        pool: pool.clone(),
        storage: storage.clone(),
        tools: tools.clone(),
    })
}

/// Sends every video a previous run left in `processing` to the processor again.
pub async fn resume(pool: &DbPool, processor: &Addr<VideoProcessor>) -> Result<(), db::DbError> {
    for id in db::blocking(pool, db::videos::processing_ids).await? {
        log::info!("video {id}: resuming processing");
        processor.do_send(ProcessVideo { id });
    }
    Ok(())
}
