//! `upload.quota_bytes`: what one user may hold in videos (being processed or ready) and
//! unfinished resumable uploads (by their declared length) together.

use super::error::VideoError;
use crate::context::AppState;
use crate::db;

/// `Ok` when `owner_id` may add `adding` bytes; `QuotaExceeded` (413 `027`) otherwise.
pub async fn check(state: &AppState, owner_id: &str, adding: u64) -> Result<(), VideoError> {
    let quota = state.settings.upload.quota_bytes;
    let owner = owner_id.to_string();
    let videos = db::blocking(&state.pool, move |c| db::videos::bytes_of_owner(c, &owner)).await?;
    let pending = state
        .resumable
        .declared_by(owner_id)
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading uploads"))?;
    let used = videos + pending;
    if used.saturating_add(adding) > quota {
        return Err(VideoError::QuotaExceeded(format!(
            "this upload of {adding} bytes would go past your quota of {quota} bytes \
             ({used} in use, unfinished uploads included); delete videos or finish uploads first"
        )));
    }
    Ok(())
}
