//! Naming and removing a room's moderators (its owner or an admin).

use roomcast_actors::registry::RulesChangedEverywhere;

use super::{find_room, require_owner};
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, moderation, moderation::ModeratorRow, users};
use crate::error::ApiError;

/// The moderators of room `room_id`, for its owner or an admin.
pub async fn list_moderators(
    state: &AppState,
    user: &AuthUser,
    room_id: String,
) -> Result<Vec<ModeratorRow>, ApiError> {
    let room = find_room(state, room_id).await?;
    require_owner(&room, user, "see its moderators")?;
    Ok(db::blocking(&state.pool, move |c| moderation::moderators(c, &room.id)).await?)
}

/// Names user `name` a moderator of room `room_id`; false when they already were one.
pub async fn add_moderator(
    state: &AppState,
    user: &AuthUser,
    room_id: String,
    name: String,
) -> Result<(users::User, bool), ApiError> {
    let room = find_room(state, room_id).await?;
    require_owner(&room, user, "name its moderators")?;
    let target = find_user(state, name).await?;
    if target.id == room.owner_id {
        return Err(ApiError::Invalid(
            "the room's owner moderates it already".into(),
        ));
    }
    if target.disabled_at.is_some() {
        return Err(ApiError::Invalid(format!(
            "{} is disabled and cannot moderate",
            target.username
        )));
    }
    let (rid, uid) = (room.id.clone(), target.id.clone());
    let added = db::blocking(&state.pool, move |c| {
        moderation::add_moderator(c, &rid, &uid)
    })
    .await?;
    if added {
        changed(
            state,
            user,
            &room.id,
            "room.moderator.add",
            &target.username,
        )
        .await;
    }
    Ok((target, added))
}

/// Removes user `name` from the moderators of room `room_id`.
pub async fn remove_moderator(
    state: &AppState,
    user: &AuthUser,
    room_id: String,
    name: String,
) -> Result<(), ApiError> {
    let room = find_room(state, room_id).await?;
    require_owner(&room, user, "remove its moderators")?;
    let target = find_user(state, name).await?;
    let (rid, uid) = (room.id.clone(), target.id.clone());
    let removed = db::blocking(&state.pool, move |c| {
        moderation::remove_moderator(c, &rid, &uid)
    })
    .await?;
    if !removed {
        return Err(ApiError::NotFound(format!(
            "{} is not a moderator of this room",
            target.username
        )));
    }
    changed(
        state,
        user,
        &room.id,
        "room.moderator.remove",
        &target.username,
    )
    .await;
    Ok(())
}

/// The room's moderators changed: its actor on every node reads them again; an admin's
/// change is audited.
async fn changed(state: &AppState, user: &AuthUser, room_id: &str, action: &str, name: &str) {
    let room = room_id.to_string();
    let _ = state.rooms.send(RulesChangedEverywhere { room }).await;
    if user.is_admin() {
        let detail = format!("room {room_id}");
        crate::audit::record(&state.pool, user, action, name, &detail).await;
    }
}

async fn find_user(state: &AppState, name: String) -> Result<users::User, ApiError> {
    let lookup = name.trim().to_string();
    db::blocking(&state.pool, move |c| users::find_by_username(c, &lookup))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {}", name.trim())))
}
