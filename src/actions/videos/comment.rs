//! Commenting on a video (signed-in users, within `limits.comments_per_minute`).

use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, comments::CommentRow};
use crate::domain::CommentBody;
use crate::error::ApiError;

/// Adds `author`'s comment to ready video `video_id`: 404 for a video that is not ready,
/// 429 (`028`) past the author's per-minute limit (admins are not limited).
pub async fn add_comment(
    state: &AppState,
    author: &AuthUser,
    video_id: String,
    body: CommentBody,
) -> Result<CommentRow, ApiError> {
    let video = db::blocking(&state.pool, move |c| db::videos::find(c, &video_id))
        .await?
        .filter(|v| v.is_ready())
        .ok_or_else(|| ApiError::NotFound("no such video".into()))?;
    if !author.is_admin() {
        crate::limits::take(
            &state.limits.comments,
            "comments",
            format!("user:{}", author.user_id),
        )?;
    }
    let (user_id, username) = (author.user_id.clone(), author.username.clone());
    let row = db::blocking(&state.pool, move |c| {
        db::comments::create(c, &video.id, &user_id, &username, body.as_str())
    })
    .await?;
    Ok(row)
}
