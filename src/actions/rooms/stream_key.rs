//! A room's stream key: its owner and admins read it, make a new one (the old one stops
//! working at once and a publisher using it is cut off), and disconnect its publisher.

use serde::Serialize;

use super::find_room;
use crate::auth::AuthUser;
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::error::ApiError;
use crate::stream_keys;

/// What OBS needs: the server and the key, and both as one URL.
#[derive(Debug, Serialize)]
pub struct StreamKey {
    pub server: String,
    pub key: String,
    pub url: String,
}

/// The room's stream key (made now if it has none).
pub async fn show_stream_key(
    state: &AppState,
    user: &AuthUser,
    room_id: String,
) -> Result<StreamKey, ApiError> {
    let (room, server) = owned_push_room(state, user, room_id).await?;
    let id = room.id.clone();
    let secret = db::blocking(&state.pool, move |c| stream_keys::secret_of(c, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no room {}", room.id)))?;
    audit_if_admin(state, user, &room, "room.stream_key.read").await;
    Ok(stream_key(&server, &room.id, &secret))
}

/// A new stream key for the room; the old one stops working and its publisher is cut off.
pub async fn regenerate_stream_key(
    state: &AppState,
    user: &AuthUser,
    room_id: String,
) -> Result<StreamKey, ApiError> {
    let (room, server) = owned_push_room(state, user, room_id).await?;
    let (id, secret) = (room.id.clone(), stream_keys::new_secret());
    let stored = secret.clone();
    db::blocking(&state.pool, move |c| rooms::set_stream_key(c, &id, &stored)).await?;
    crate::ingest::cut_off_publisher(state, &room.id).await;
    log::info!("room {}: stream key replaced", room.id);
    audit_if_admin(state, user, &room, "room.stream_key.regenerate").await;
    Ok(stream_key(&server, &room.id, &secret))
}

/// Disconnects the room's publisher (owner or admin); the room goes back to `waiting`.
pub async fn kick_publisher(
    state: &AppState,
    user: &AuthUser,
    room_id: String,
) -> Result<RoomRow, ApiError> {
    let (room, _) = owned_push_room(state, user, room_id).await?;
    if !crate::ingest::cut_off_publisher(state, &room.id).await {
        return Err(ApiError::NotFound(
            "nobody is publishing to this room".into(),
        ));
    }
    audit_if_admin(state, user, &room, "room.publisher.kick").await;
    Ok(room)
}

/// The room, if `user` owns it or is an admin, and the server publishers use.
async fn owned_push_room(
    state: &AppState,
    user: &AuthUser,
    room_id: String,
) -> Result<(RoomRow, String), ApiError> {
    let room = find_room(state, room_id).await?;
    if room.owner_id != user.user_id && !user.is_admin() {
        return Err(ApiError::Forbidden(
            "only the room's owner or an admin can see its stream key".into(),
        ));
    }
    let server = state.rtmp_url.clone().ok_or_else(|| {
        ApiError::NotFound("publishing is turned off on this server (ingest.rtmp_addr)".into())
    })?;
    Ok((room, server))
}

/// An admin handling someone else's key is written down (the owner's own use is not).
async fn audit_if_admin(state: &AppState, user: &AuthUser, room: &RoomRow, action: &str) {
    if room.owner_id != user.user_id {
        crate::audit::record(&state.pool, user, action, &room.id, &room.title).await;
    }
}

fn stream_key(server: &str, room_id: &str, secret: &str) -> StreamKey {
    let key = stream_keys::compose(room_id, secret);
    StreamKey {
        url: format!("{server}/{key}"),
        server: server.to_string(),
        key,
    }
}
