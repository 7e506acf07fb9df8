//! Videos and comments as the API returns them.

use serde::Serialize;

use crate::db::comments::CommentRow;
use crate::db::videos::VideoRow;

#[derive(Serialize)]
pub struct VideoJson {
    pub id: String,
    pub title: String,
    pub description: String,
    pub owner: String,
    /// `processing`, `ready` or `failed`.
    pub status: String,
    /// Why processing failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub size_bytes: i64,
    pub mime: String,
    pub duration_ms: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub video_codec: String,
    pub audio_codec: String,
    pub created_at: String,
    pub page_url: String,
    /// Present once the video is ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

impl From<VideoRow> for VideoJson {
    fn from(v: VideoRow) -> Self {
        let ready = v.is_ready();
        Self {
            stream_url: ready.then(|| format!("/videos/{}/stream", v.id)),
            thumbnail_url: ready.then(|| format!("/videos/{}/thumbnail.jpg", v.id)),
            page_url: format!("/videos/{}", v.id),
            id: v.id,
            title: v.title,
            description: v.description,
            owner: v.owner,
            status: v.status,
            failure_reason: v.failure_reason,
            size_bytes: v.size_bytes,
            mime: v.mime,
            duration_ms: v.duration_ms,
            width: v.width,
            height: v.height,
            video_codec: v.video_codec,
            audio_codec: v.audio_codec,
            created_at: v.created_at.and_utc().to_rfc3339(),
        }
    }
}

#[derive(Serialize)]
pub struct CommentJson {
    pub id: String,
    pub author: String,
    pub body: String,
    pub created_at: String,
}

impl From<CommentRow> for CommentJson {
    fn from(c: CommentRow) -> Self {
        Self {
            id: c.id,
            author: c.author,
            body: c.body,
            created_at: c.created_at.and_utc().to_rfc3339(),
        }
    }
}
