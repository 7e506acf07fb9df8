//! Removing a message from a room (its owner, its moderators or an admin).

use roomcast_actors::registry::RetractEverywhere;

use super::{find_room, require_moderator};
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, danmaku};
use crate::error::ApiError;

/// Deletes message `msg_id` of room `room_id` for `moderator` and retracts it on every
/// viewer's screen; an admin's removal is audited.
pub async fn retract_message(
    state: &AppState,
    moderator: &AuthUser,
    room_id: String,
    msg_id: String,
) -> Result<(), ApiError> {
    let room = find_room(state, room_id).await?;
    require_moderator(state, &room, moderator).await?;
    let (rid, mid) = (room.id.clone(), msg_id.clone());
    let deleted =
        db::blocking(&state.pool, move |c| danmaku::delete_in_room(c, &rid, &mid)).await?;
    if !deleted {
        return Err(ApiError::NotFound(format!(
            "no message {msg_id} in this room"
        )));
    }
    state.rooms.do_send(RetractEverywhere {
        room: room.id.clone(),
        ids: vec![msg_id.clone()],
    });
    if moderator.is_admin() {
        let detail = format!("room {}", room.id);
        crate::audit::record(&state.pool, moderator, "danmaku.remove", &msg_id, &detail).await;
    }
    Ok(())
}
