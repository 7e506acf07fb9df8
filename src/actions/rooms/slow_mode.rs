//! Slow mode: one message per user per N seconds in a room (its owner, its moderators or an
//! admin set it; moderators are exempt).

use roomcast_actors::registry::RulesChangedEverywhere;

use super::{find_room, require_moderator};
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::error::ApiError;

/// The longest slow mode: an hour.
pub const MAX_SLOW_MODE_SECS: u64 = 3600;

/// Sets room `room_id`'s slow mode to `secs` (0 turns it off) on every node.
pub async fn set_slow_mode(
    state: &AppState,
    moderator: &AuthUser,
    room_id: String,
    secs: u64,
) -> Result<RoomRow, ApiError> {
    let room = find_room(state, room_id).await?;
    require_moderator(state, &room, moderator).await?;
    if secs > MAX_SLOW_MODE_SECS {
        return Err(ApiError::Invalid(format!(
            "slow_mode_secs must be 0 (off) to {MAX_SLOW_MODE_SECS}"
        )));
    }
    let id = room.id.clone();
    let changes = rooms::RoomChanges {
        slow_mode_secs: Some(secs as i32),
        ..Default::default()
    };
    let row = db::blocking(&state.pool, move |c| {
        rooms::update(c, &id, &changes)?;
        rooms::find(c, &id)
    })
    .await?
    .ok_or_else(|| ApiError::NotFound("the room is gone".into()))?;
    let _ = state
        .rooms
        .send(RulesChangedEverywhere {
            room: row.id.clone(),
        })
        .await;
    if moderator.is_admin() {
        let detail = format!("{secs} s");
        crate::audit::record(&state.pool, moderator, "room.slow_mode", &row.id, &detail).await;
    }
    Ok(row)
}
