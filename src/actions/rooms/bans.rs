//! Listing a room's bans and mutes, and lifting one (its owner, its moderators or an admin).

use roomcast_actors::registry::UnbanEverywhere;

use super::{find_room, require_moderator};
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, moderation, moderation::BanRow};
use crate::error::ApiError;

/// The bans and mutes of room `room_id` that have not ended.
pub async fn list_bans(
    state: &AppState,
    moderator: &AuthUser,
    room_id: String,
) -> Result<Vec<BanRow>, ApiError> {
    let room = find_room(state, room_id).await?;
    require_moderator(state, &room, moderator).await?;
    Ok(db::blocking(&state.pool, move |c| moderation::active_bans(c, &room.id)).await?)
}

/// Lifts the ban or mute of user `user_id` in room `room_id` (a mute for flooding too), on
/// every node; an admin's is audited.
pub async fn lift_ban(
    state: &AppState,
    moderator: &AuthUser,
    room_id: String,
    user_id: String,
) -> Result<(), ApiError> {
    let room = find_room(state, room_id).await?;
    require_moderator(state, &room, moderator).await?;
    let (rid, uid) = (room.id.clone(), user_id.clone());
    let lifted = db::blocking(&state.pool, move |c| moderation::unban(c, &rid, &uid)).await?;
    // A mute for flooding lives in the room alone: it is lifted even with no row.
    let lift = UnbanEverywhere {
        room: room.id.clone(),
        user_id: user_id.clone(),
    };
    let _ = state.rooms.send(lift).await;
    if !lifted {
        return Err(ApiError::NotFound(
            "that user is not banned in this room".into(),
        ));
    }
    if moderator.is_admin() {
        let detail = format!("room {}", room.id);
        crate::audit::record(&state.pool, moderator, "user.unban", &user_id, &detail).await;
    }
    Ok(())
}
