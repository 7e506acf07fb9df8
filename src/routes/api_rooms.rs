//! `/api/rooms`: list, create and show rooms, their recent danmaku, and moderation.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::actions::rooms::{
    ban_user, control_pipeline, create_room, find_room, retract_message, set_slow_mode, update_room,
};
use crate::auth::{AuthUser, CurrentUser, MaybeUser};
use crate::context::AppState;
use crate::db::{self, danmaku, rooms, rooms::RoomRow};
use crate::domain::{RoomTitle, SourceUrl};
use crate::error::ApiError;
use crate::ingest;
use crate::live::{online_count, online_counts};

#[derive(Serialize)]
pub struct RoomJson {
    id: String,
    title: String,
    owner: String,
    on_demand: bool,
    has_source: bool,
    slow_mode_secs: i32,
    created_at: String,
    online: u64,
    /// The live video pipeline, for rooms with a source (`null` otherwise).
    live: serde_json::Value,
}

impl RoomJson {
    /// `viewer` decides how much of the source's state is shown: its errors are for the
    /// room's owner and admins; everyone else sees the state alone.
    async fn load(state: &AppState, row: RoomRow, online: u64, viewer: Option<&AuthUser>) -> Self {
        let reveal = viewer.is_some_and(|u| u.is_admin() || u.user_id == row.owner_id);
        let live = ingest::live_json(state, &row, reveal).await;
        Self {
            id: row.id,
            title: row.title,
            owner: row.owner,
            on_demand: row.on_demand,
            has_source: row.source_url.is_some(),
            slow_mode_secs: row.slow_mode_secs,
            created_at: row.created_at.and_utc().to_rfc3339(),
            online,
            live,
        }
    }
}

#[derive(Deserialize)]
pub struct Paging {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
}

/// `GET /api/rooms?limit=&offset=`: newest first, with online counts.
pub async fn list(
    state: web::Data<AppState>,
    MaybeUser(viewer): MaybeUser,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let offset = q.offset.unwrap_or(0).max(0);
    let rows = db::blocking(&state.pool, move |c| rooms::list(c, limit, offset)).await?;
    let counts = online_counts(&state, rows.iter().map(|r| r.id.clone()).collect()).await;
    let mut rooms = Vec::with_capacity(rows.len());
    for r in rows {
        let online = counts.get(&r.id).copied().unwrap_or(0);
        rooms.push(RoomJson::load(&state, r, online, viewer.as_ref()).await);
    }
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "rooms": rooms, "limit": limit, "offset": offset })))
}

#[derive(Deserialize)]
pub struct NewRoomBody {
    title: String,
    #[serde(default)]
    source_url: Option<String>,
    #[serde(default)]
    on_demand: bool,
}

/// `POST /api/rooms`: any signed-in user opens a room; only admins give it a source.
pub async fn create(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: web::Json<NewRoomBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let title = RoomTitle::parse(&body.title).map_err(ApiError::Invalid)?;
    let allow_files = state.settings.ingest.allow_files;
    let source_url = body
        .source_url
        .filter(|s| !s.trim().is_empty())
        .map(|s| SourceUrl::parse(&s, allow_files))
        .transpose()
        .map_err(ApiError::Invalid)?;
    let row = create_room(&state, &user, title, source_url, body.on_demand).await?;
    Ok(HttpResponse::Created().json(RoomJson::load(&state, row, 0, Some(&user)).await))
}

#[derive(Deserialize)]
pub struct RoomPatch {
    #[serde(default)]
    title: Option<String>,
    /// Absent: unchanged; `null` or `""`: the source is removed.
    #[serde(default, deserialize_with = "present")]
    source_url: Option<Option<String>>,
    #[serde(default)]
    on_demand: Option<bool>,
    /// Owner, moderators and admins: one message per user per N s (0: off).
    #[serde(default)]
    slow_mode_secs: Option<u64>,
}

/// Tells a field that is present but `null` from one that is absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /api/rooms/{id}`: admins change a room's title, source or on-demand flag; its
/// owner, moderators and admins its slow mode.
pub async fn update(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    body: web::Json<RoomPatch>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let allow_files = state.settings.ingest.allow_files;
    let changes = rooms::RoomChanges {
        title: body
            .title
            .map(|t| RoomTitle::parse(&t).map(|t| t.as_str().to_string()))
            .transpose()
            .map_err(ApiError::Invalid)?,
        source_url: match body.source_url {
            None => None,
            Some(None) => Some(None),
            Some(Some(s)) if s.trim().is_empty() => Some(None),
            Some(Some(s)) => Some(Some(
                SourceUrl::parse(&s, allow_files)
                    .map_err(ApiError::Invalid)?
                    .expose()
                    .to_string(),
            )),
        },
        on_demand: body.on_demand,
        source_stopped: None,
        slow_mode_secs: None,
    };
    let id = id.into_inner();
    let admin_part = changes.title.is_some()
        || changes.source_url.is_some()
        || changes.on_demand.is_some()
        || body.slow_mode_secs.is_none();
    let mut row = None;
    if admin_part {
        row = Some(update_room(&state, &user, id.clone(), changes).await?);
    }
    if let Some(secs) = body.slow_mode_secs {
        row = Some(set_slow_mode(&state, &user, id, secs).await?);
    }
    let row = row.expect("one of the two ran");
    let online = online_count(&state, &row.id).await;
    Ok(HttpResponse::Ok().json(RoomJson::load(&state, row, online, Some(&user)).await))
}

/// `GET /api/rooms/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    MaybeUser(viewer): MaybeUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let room = find_room(&state, id.into_inner()).await?;
    let online = online_count(&state, &room.id).await;
    Ok(HttpResponse::Ok().json(RoomJson::load(&state, room, online, viewer.as_ref()).await))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    limit: Option<i64>,
}

/// `GET /api/rooms/{id}/danmaku?limit=`: the newest messages, oldest first.
pub async fn history(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let room = find_room(&state, id.into_inner()).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let items = db::blocking(&state.pool, move |c| {
        danmaku::recent_in_room(c, &room.id, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// `DELETE /api/rooms/{id}/danmaku/{msg_id}`: removed from the database and the history,
/// and retracted on every viewer's screen.
pub async fn retract(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, msg_id) = path.into_inner();
    retract_message(&state, &user, room_id, msg_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct BanBody {
    user: String,
    seconds: u64,
    #[serde(default)]
    reason: String,
}

/// `POST /api/rooms/{id}/bans`: mutes a user in the room for `seconds`.
pub async fn ban(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    body: web::Json<BanBody>,
) -> Result<HttpResponse, ApiError> {
    let BanBody {
        user: name,
        seconds,
        reason,
    } = body.into_inner();
    let reason: String = reason.trim().chars().take(500).collect();
    let room_id = id.into_inner();
    let (target, until_db) = ban_user(
        &state,
        &user,
        room_id.clone(),
        name,
        seconds,
        reason.clone(),
    )
    .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "room": room_id,
        "user": target.username,
        "until": until_db.and_utc().to_rfc3339(),
        "reason": reason,
    })))
}

/// `POST /api/admin/rooms/{id}/ingest/{start,stop,restart}`: admins control a pipeline.
pub async fn control_ingest(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, action) = path.into_inner();
    let room = control_pipeline(&state, &user, room_id, &action).await?;
    let live = ingest::live_json(&state, &room, true).await;
    Ok(HttpResponse::Accepted().json(live))
}

/// `GET /api/rooms/{id}/stream-key`: the owner's (or an admin's) server and key for OBS.
pub async fn stream_key(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = crate::actions::rooms::show_stream_key(&state, &user, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(key))
}

/// `POST /api/rooms/{id}/stream-key`: a new key; the old one stops working at once.
pub async fn new_stream_key(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = crate::actions::rooms::regenerate_stream_key(&state, &user, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(key))
}

/// `POST /api/rooms/{id}/ingest/kick`: disconnects the room's publisher (owner or admin).
pub async fn kick(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let room = crate::actions::rooms::kick_publisher(&state, &user, id.into_inner()).await?;
    let live = ingest::live_json(&state, &room, true).await;
    Ok(HttpResponse::Accepted().json(live))
}
