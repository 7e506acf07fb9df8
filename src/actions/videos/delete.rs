//! Deleting a video (its owner or an admin).

use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, videos::VideoRow};
use crate::error::ApiError;

/// Deletes video `id` for `user`: marked deleted with its `video_del_rec` (for the cleanup
/// job) and no longer served on this node at once. Others than the owner and admins get
/// 404 for a video they cannot see and 403 otherwise; an admin's deletion is audited.
pub async fn delete_video(
    state: &AppState,
    user: &AuthUser,
    id: String,
) -> Result<VideoRow, ApiError> {
    let video = db::blocking(&state.pool, move |c| db::videos::find_visible(c, &id))
        .await?
        .filter(|v| v.is_ready() || v.owner_id == user.user_id || user.is_admin())
        .ok_or_else(|| ApiError::NotFound("no such video".into()))?;
    if video.owner_id != user.user_id && !user.is_admin() {
        return Err(ApiError::Forbidden(
            "only the owner or an admin may delete a video".into(),
        ));
    }
    let vid = video.id.clone();
    let deleted = db::blocking(&state.pool, move |c| db::videos::mark_deleted(c, &vid)).await?;
    state.served.forget(&video.id);
    if let Some(path) = state.storage.video_file(&video.file_name) {
        state.files.forget(&path);
    }
    state.files.forget(&state.storage.thumbnail(&video.id));
    if !deleted {
        return Err(ApiError::NotFound("no such video".into()));
    }
    log::info!("video {}: deleted by {}", video.id, user.username);
    if user.is_admin() {
        crate::audit::record(&state.pool, user, "video.delete", &video.id, &video.title).await;
    }
    Ok(video)
}
