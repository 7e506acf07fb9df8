//! What can go wrong when the video site takes an upload or a message, in its own terms; the
//! HTTP edge turns each into its status and code (`From<VideoError> for ApiError`).

use crate::db::DbError;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// Not a video ffprobe can play (nothing was kept).
    #[error("{0}")]
    NotPlayable(String),
    /// The tools to check or process uploads are missing or failing for reasons that are
    /// not the upload's (killed, out of memory): try again later.
    #[error("{0}")]
    Unavailable(String),
    /// Past the user's `upload.quota_bytes`.
    #[error("{0}")]
    QuotaExceeded(String),
    /// Sending too fast; wait this long.
    #[error("sending too fast")]
    RateLimited { retry_after_ms: u64 },
    /// Muted for flooding; wait this long.
    #[error("muted for sending too fast")]
    Muted { retry_after_ms: u64 },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<VideoError> for ApiError {
    fn from(e: VideoError) -> Self {
        match e {
            VideoError::NotPlayable(why) => ApiError::NotPlayable(why),
            VideoError::Unavailable(why) => ApiError::Unavailable(why),
            VideoError::QuotaExceeded(why) => ApiError::QuotaExceeded(why),
            VideoError::RateLimited { retry_after_ms } => ApiError::RateLimited { retry_after_ms },
            VideoError::Muted { retry_after_ms } => ApiError::Muted { retry_after_ms },
            VideoError::Database(e) => e.into(),
            VideoError::Internal(e) => ApiError::Internal(e),
        }
    }
}
