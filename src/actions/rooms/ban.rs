//! Muting or banning a user in a room (its owner, its moderators or an admin).

use std::time::{Duration, SystemTime};

use chrono::Utc;
use roomcast_actors::registry::BanEverywhere;

use super::{find_room, require_moderator};
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, danmaku, users};
use crate::error::ApiError;

/// The longest ban.
pub const MAX_BAN_SECS: u64 = 365 * 24 * 3600;
/// Up to this long a ban is called a mute (in the audit log and the panel).
pub const MUTE_SECS: u64 = 600;

/// Mutes user `name` in room `room_id` for `seconds`, for `moderator`: stored, and their
/// open sockets told; an admin's is audited. Returns the user and the end of the ban.
pub async fn ban_user(
    state: &AppState,
    moderator: &AuthUser,
    room_id: String,
    name: String,
    seconds: u64,
    reason: String,
) -> Result<(users::User, chrono::NaiveDateTime), ApiError> {
    let room = find_room(state, room_id).await?;
    require_moderator(state, &room, moderator).await?;
    if !(1..=MAX_BAN_SECS).contains(&seconds) {
        return Err(ApiError::Invalid(format!(
            "seconds must be 1 to {MAX_BAN_SECS}"
        )));
    }
    let reason: String = reason.trim().chars().take(500).collect();
    let lookup = name.clone();
    let target = db::blocking(&state.pool, move |c| users::find_by_username(c, &lookup))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {name}")))?;
    if target.id == room.owner_id || target.role == "admin" {
        return Err(ApiError::Forbidden(
            "the room's owner and admins cannot be banned".into(),
        ));
    }
    if !super::owns(&room, moderator) {
        let (rid, uid) = (room.id.clone(), target.id.clone());
        if db::blocking(&state.pool, move |c| {
            db::moderation::is_moderator(c, &rid, &uid)
        })
        .await?
        {
            return Err(ApiError::Forbidden(
                "only the room's owner or an admin can ban one of its moderators".into(),
            ));
        }
    }
    let until = SystemTime::now() + Duration::from_secs(seconds);
    let until_db = chrono::DateTime::<Utc>::from(until).naive_utc();
    let (rid, uid, why) = (room.id.clone(), target.id.clone(), reason);
    db::blocking(&state.pool, move |c| {
        danmaku::ban(c, &rid, &uid, until_db, &why)
    })
    .await?;
    state.rooms.do_send(BanEverywhere {
        room: room.id.clone(),
        user_id: target.id.clone(),
        until,
    });
    if moderator.is_admin() {
        let action = if seconds > MUTE_SECS {
            "user.ban"
        } else {
            "user.mute"
        };
        let detail = format!("room {} for {seconds} s", room.id);
        crate::audit::record(&state.pool, moderator, action, &target.username, &detail).await;
    }
    Ok((target, until_db))
}
