//! What happens once an upload's bytes are on disk, for plain and resumable uploads alike:
//! ffprobe decides whether it is a playable video (if not, nothing is kept), the video row
//! is written, and the file is handed to the `VideoProcessor`.

use std::path::PathBuf;

use chrono::Utc;

use super::error::VideoError;
use super::incoming::blocking;
use crate::context::AppState;
use crate::db::{self, videos::NewVideo, videos::VideoRow};
use crate::domain::{VideoDescription, VideoTitle};
use crate::jobs::process_upload;
use crate::media::probe::{self, ProbeError};
use crate::media::storage::remove_if_exists;
use crate::media::ToolError;

/// An upload whose bytes have all arrived.
pub struct Arrived {
    /// The bytes, in `tmp/`; removed here whatever the outcome.
    pub path: PathBuf,
    pub size: u64,
    pub owner_id: String,
    pub title: VideoTitle,
    pub description: VideoDescription,
}

/// Refuses an upload before its body is read when ffprobe or ffmpeg is missing: the
/// uploader would otherwise send every byte only to be refused.
pub fn tools_ready(state: &AppState) -> Result<(), VideoError> {
    state.tools.present().map_err(|e| {
        log::error!("upload refused: {e}");
        VideoError::Unavailable(format!("uploads are not available: {e}"))
    })
}

/// Probes, records and queues an upload; returns the new video (status `processing`).
pub async fn accept(state: &AppState, upload: Arrived) -> Result<VideoRow, VideoError> {
    let tools = state.tools.clone();
    let path = upload.path.clone();
    let probed = blocking(move || Ok(probe::probe(&tools, &path))).await;
    let probed = match probed {
        Ok(Ok(p)) => p,
        Ok(Err(ProbeError::NotPlayable(why))) => {
            discard(upload.path).await;
            return Err(VideoError::NotPlayable(why));
        }
        Ok(Err(ProbeError::Tool(e @ ToolError::Missing { .. }))) => {
            discard(upload.path).await;
            log::error!("upload refused: {e}");
            return Err(VideoError::Unavailable(format!(
                "uploads are not available: {e}"
            )));
        }
        Ok(Err(ProbeError::Tool(e))) if e.is_environment_fault() => {
            // Killed, timed out, out of memory or disk: not the video's fault.
            discard(upload.path).await;
            log::warn!("probing an upload: {e}");
            return Err(VideoError::Unavailable(
                "the video could not be checked just now; please upload it again shortly".into(),
            ));
        }
        Ok(Err(ProbeError::Tool(e))) => {
            discard(upload.path).await;
            return Err(VideoError::Internal(
                anyhow::Error::new(e).context("probing an upload"),
            ));
        }
        Err(e) => {
            discard(upload.path).await;
            return Err(VideoError::Internal(
                anyhow::Error::new(e).context("probing an upload"),
            ));
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    let input = state.storage.upload_input(&id);
    let from = upload.path.clone();
    let to = input.clone();
    if let Err(e) = blocking(move || std::fs::rename(&from, &to)).await {
        discard(upload.path).await;
        return Err(VideoError::Internal(
            anyhow::Error::new(e).context("keeping an upload"),
        ));
    }
    let row_id = id.clone();
    let inserted = db::blocking(&state.pool, move |c| {
        db::videos::insert(
            c,
            &NewVideo {
                id: &row_id,
                owner_id: &upload.owner_id,
                title: upload.title.as_str(),
                description: upload.description.as_str(),
                status: "processing",
                file_name: "",
                size_bytes: upload.size as i64,
                mime: probed.container.mime(),
                duration_ms: Some(probed.duration_ms),
                width: Some(probed.width),
                height: Some(probed.height),
                video_codec: &probed.video_codec,
                audio_codec: &probed.audio_codec,
                created_at: Utc::now().naive_utc(),
            },
        )?;
        db::videos::find(c, &row_id)
    })
    .await;
    let video = match inserted {
        Ok(Some(video)) => video,
        Ok(None) => {
            discard(input).await;
            return Err(VideoError::Internal(anyhow::anyhow!(
                "video {id} vanished after insert"
            )));
        }
        Err(e) => {
            discard(input).await;
            return Err(e.into());
        }
    };
    log::info!("video {id}: uploaded ({} bytes), processing", upload.size);
    // If this fails the video stays `processing`, and the next start of any node enqueues it.
    if let Err(e) = state
        .jobs
        .enqueue(process_upload::KIND, &process_upload::payload(&id))
        .await
    {
        log::error!("video {id}: enqueueing its processing: {e}");
    }
    Ok(video)
}

async fn discard(path: PathBuf) {
    let shown = path.display().to_string();
    if let Err(e) = blocking(move || remove_if_exists(&path)).await {
        log::warn!("upload {shown}: {e}");
    }
}
