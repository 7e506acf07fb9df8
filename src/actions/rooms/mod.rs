//! Rooms: opening one, changing its source, moderating its danmaku, controlling its
//! pipeline.

mod ban;
mod control;
mod create;
mod retract;
mod stream_key;
mod update;

pub use ban::{ban_user, MAX_BAN_SECS, MUTE_SECS};
pub use control::control_pipeline;
pub use create::create_room;
pub use retract::retract_message;
pub use stream_key::{kick_publisher, regenerate_stream_key, show_stream_key, StreamKey};
pub use update::update_room;

use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::domain::SourceUrl;
use crate::error::ApiError;

pub async fn find_room(state: &AppState, id: String) -> Result<RoomRow, ApiError> {
    let room_id = id.clone();
    db::blocking(&state.pool, move |c| rooms::find(c, &room_id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no room {id}")))
}

/// The room's owner and admins moderate it.
fn require_moderator(room: &RoomRow, user: &AuthUser) -> Result<(), ApiError> {
    if room.owner_id == user.user_id || user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the room's owner or an admin can moderate it".into(),
        ))
    }
}

/// Refuses a source whose host the rules forbid (link-local always; loopback and private
/// ranges unless `ingest.allow_private_sources`). Resolves names, off the worker thread.
async fn check_source_host(state: &AppState, url: SourceUrl) -> Result<(), ApiError> {
    let allow_private = state.settings.ingest.allow_private_sources;
    actix_web::web::block(move || crate::domain::source_host::check(&url, allow_private))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(ApiError::Invalid)
}
