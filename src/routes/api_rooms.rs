//! `/api/rooms`: list, create and show rooms, their recent danmaku, and moderation.

use std::time::{Duration, SystemTime};

use actix_web::{web, HttpResponse};
use chrono::Utc;
use roomcast_actors::ingest::pipeline::{ControlIngest, IngestAction};
use roomcast_actors::registry::{BanEverywhere, RetractEverywhere};
use serde::{Deserialize, Serialize};

use crate::auth::{AuthUser, CurrentUser, MaybeUser};
use crate::db::{self, danmaku, rooms, rooms::RoomRow, users};
use crate::domain::{RoomTitle, SourceUrl};
use crate::error::ApiError;
use crate::ingest;
use crate::live::{online_count, online_counts};
use crate::startup::AppState;

const MAX_BAN_SECS: u64 = 365 * 24 * 3600;

#[derive(Serialize)]
pub struct RoomJson {
    id: String,
    title: String,
    owner: String,
    on_demand: bool,
    has_source: bool,
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

/// Stores a new room and starts its pipeline if it has a source. Only admins give a room
/// a source or make it on-demand; other users open at most `limits.rooms_per_hour`.
pub async fn create_room(
    state: &AppState,
    owner: &AuthUser,
    title: RoomTitle,
    source_url: Option<SourceUrl>,
    on_demand: bool,
) -> Result<RoomRow, ApiError> {
    if !owner.is_admin() {
        if source_url.is_some() || on_demand {
            return Err(ApiError::Forbidden(
                "only admins can give a room a source or make it on-demand".into(),
            ));
        }
        crate::limits::take(
            &state.limits.rooms,
            "new rooms",
            format!("user:{}", owner.user_id),
        )?;
    }
    if let Some(url) = &source_url {
        check_source_host(state, url.clone()).await?;
    }
    let owner = owner.user_id.clone();
    let row = db::blocking(&state.pool, move |c| {
        let id = rooms::create(
            c,
            &owner,
            title.as_str(),
            source_url.as_ref().map(SourceUrl::expose),
            on_demand,
        )?;
        rooms::find(c, &id)
    })
    .await?
    .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a new room vanished after insert")))?;
    ingest::sync_room(state, &row);
    Ok(row)
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
}

/// Tells a field that is present but `null` from one that is absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /api/rooms/{id}`: admins change a room's title, source or on-demand flag.
pub async fn update(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    body: web::Json<RoomPatch>,
) -> Result<HttpResponse, ApiError> {
    if !user.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins can change a room's source".into(),
        ));
    }
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
    };
    let row = update_room(&state, id.into_inner(), changes).await?;
    let online = online_count(&state, &row.id).await;
    Ok(HttpResponse::Ok().json(RoomJson::load(&state, row, online, Some(&user)).await))
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

/// Applies `changes` to a room and brings its pipeline in line with its source. A new
/// source starts afresh: an admin's stop of the old one does not carry over.
pub async fn update_room(
    state: &AppState,
    room_id: String,
    mut changes: rooms::RoomChanges,
) -> Result<RoomRow, ApiError> {
    if let Some(Some(raw)) = &changes.source_url {
        let url =
            SourceUrl::parse(raw, state.settings.ingest.allow_files).map_err(ApiError::Invalid)?;
        check_source_host(state, url).await?;
    }
    let lookup = room_id.clone();
    let row = db::blocking(&state.pool, move |c| {
        let Some(before) = rooms::find(c, &lookup)? else {
            return Ok(None);
        };
        if changes
            .source_url
            .as_ref()
            .is_some_and(|url| *url != before.source_url)
        {
            changes.source_stopped = Some(false);
        }
        if !rooms::update(c, &lookup, &changes)? {
            return Ok(None);
        }
        rooms::find(c, &lookup)
    })
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no room {room_id}")))?;
    ingest::sync_room(state, &row);
    Ok(row)
}

pub async fn find_room(state: &AppState, id: String) -> Result<RoomRow, ApiError> {
    let room_id = id.clone();
    db::blocking(&state.pool, move |c| rooms::find(c, &room_id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no room {id}")))
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

fn require_moderator(room: &RoomRow, user: &AuthUser) -> Result<(), ApiError> {
    if room.owner_id == user.user_id || user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the room's owner or an admin can moderate it".into(),
        ))
    }
}

/// `DELETE /api/rooms/{id}/danmaku/{msg_id}`: removed from the database and the history,
/// and retracted on every viewer's screen.
pub async fn retract(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, msg_id) = path.into_inner();
    let room = find_room(&state, room_id).await?;
    require_moderator(&room, &user)?;
    retract_message(&state, &room.id, msg_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a room's message and retracts it on every viewer's screen.
pub async fn retract_message(
    state: &AppState,
    room_id: &str,
    msg_id: String,
) -> Result<(), ApiError> {
    let (rid, mid) = (room_id.to_string(), msg_id.clone());
    let deleted =
        db::blocking(&state.pool, move |c| danmaku::delete_in_room(c, &rid, &mid)).await?;
    if !deleted {
        return Err(ApiError::NotFound(format!(
            "no message {msg_id} in this room"
        )));
    }
    state.rooms.do_send(RetractEverywhere {
        room: room_id.to_string(),
        ids: vec![msg_id],
    });
    Ok(())
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
    let room = find_room(&state, id.into_inner()).await?;
    require_moderator(&room, &user)?;
    let BanBody {
        user: name,
        seconds,
        reason,
    } = body.into_inner();
    let reason: String = reason.trim().chars().take(500).collect();
    let (target, until_db) = ban_user(&state, &room, name, seconds, reason.clone()).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "room": room.id,
        "user": target.username,
        "until": until_db.and_utc().to_rfc3339(),
        "reason": reason,
    })))
}

/// Mutes user `name` in `room` for `seconds`: stored, and their open sockets told.
/// Returns the user and the end of the ban.
pub async fn ban_user(
    state: &AppState,
    room: &RoomRow,
    name: String,
    seconds: u64,
    reason: String,
) -> Result<(users::User, chrono::NaiveDateTime), ApiError> {
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
    let until = SystemTime::now() + Duration::from_secs(seconds);
    let until_db = chrono::DateTime::<Utc>::from(until).naive_utc();
    let (rid, uid, why) = (room.id.clone(), target.id.clone(), reason.clone());
    db::blocking(&state.pool, move |c| {
        danmaku::ban(c, &rid, &uid, until_db, &why)
    })
    .await?;
    state.rooms.do_send(BanEverywhere {
        room: room.id.clone(),
        user_id: target.id.clone(),
        until,
    });
    Ok((target, until_db))
}

/// `POST /api/admin/rooms/{id}/ingest/{start,stop,restart}`: admins control a pipeline.
pub async fn control_ingest(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    if !user.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins control live sources".into(),
        ));
    }
    let (room_id, action) = path.into_inner();
    let room = control_pipeline(&state, &user, room_id, &action).await?;
    let live = ingest::live_json(&state, &room, true).await;
    Ok(HttpResponse::Accepted().json(live))
}

/// Starts, stops or restarts a room's pipeline for an admin, and writes it to the audit
/// log. 404 for an unknown action or a room without a source.
pub async fn control_pipeline(
    state: &AppState,
    admin: &AuthUser,
    room_id: String,
    action: &str,
) -> Result<RoomRow, ApiError> {
    let action = match action {
        "start" => IngestAction::Start,
        "stop" => IngestAction::Stop,
        "restart" => IngestAction::Restart,
        other => return Err(ApiError::NotFound(format!("no ingest action {other:?}"))),
    };
    let room = find_room(state, room_id).await?;
    let pipeline = ingest::pipeline(state, &room.id)
        .await
        .ok_or_else(|| ApiError::NotFound("this room has no live source".into()))?;
    // Stored first, so a node that takes the source over (or this one after a restart)
    // keeps to it.
    let (id, stopped) = (room.id.clone(), action == IngestAction::Stop);
    db::blocking(&state.pool, move |c| {
        rooms::set_source_stopped(c, &id, stopped)
    })
    .await?;
    pipeline
        .send(ControlIngest { action })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("the pipeline is gone: {e}")))?;
    let verb = format!("ingest.{}", format!("{action:?}").to_lowercase());
    crate::audit::record(state, admin, &verb, &room.id, &room.title).await;
    Ok(room)
}
