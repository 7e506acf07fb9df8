//! Rooms: opening one, changing its source, moderating its danmaku (moderators, bans, slow
//! mode), controlling its pipeline.

mod ban;
mod bans;
mod control;
mod create;
mod moderators;
mod retract;
mod slow_mode;
mod stream_key;
mod update;

pub use ban::{ban_user, MAX_BAN_SECS, MUTE_SECS};
pub use bans::{lift_ban, list_bans};
pub use control::control_pipeline;
pub use create::create_room;
pub use moderators::{add_moderator, list_moderators, remove_moderator};
pub use retract::retract_message;
pub use slow_mode::{set_slow_mode, MAX_SLOW_MODE_SECS};
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

/// Whether `user` is the room's owner or an admin: they name its moderators.
pub fn owns(room: &RoomRow, user: &AuthUser) -> bool {
    room.owner_id == user.user_id || user.is_admin()
}

/// Whether `user` may moderate the room: its owner, an admin, or a moderator the owner named.
pub async fn may_moderate(
    state: &AppState,
    room: &RoomRow,
    user: &AuthUser,
) -> Result<bool, ApiError> {
    if owns(room, user) {
        return Ok(true);
    }
    let (rid, uid) = (room.id.clone(), user.user_id.clone());
    Ok(db::blocking(&state.pool, move |c| {
        db::moderation::is_moderator(c, &rid, &uid)
    })
    .await?)
}

/// Refuses anyone who may not moderate the room.
pub async fn require_moderator(
    state: &AppState,
    room: &RoomRow,
    user: &AuthUser,
) -> Result<(), ApiError> {
    if may_moderate(state, room, user).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the room's owner, its moderators or an admin can moderate it".into(),
        ))
    }
}

/// Refuses anyone but the room's owner and admins.
fn require_owner(room: &RoomRow, user: &AuthUser, what: &str) -> Result<(), ApiError> {
    if owns(room, user) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "only the room's owner or an admin can {what}"
        )))
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
