//! `/live` (rooms with online counts, and a form to open one) and `/live/{id}` (the room:
//! player area, danmaku overlay, chat list and send box, driven by `static/room.js`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, Layout};
use crate::actions::rooms::create_room;
use crate::auth::{csrf, PageUser};
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::domain::RoomTitle;
use crate::error::{ApiError, PageError};
use crate::live::{online_count, online_counts};

/// A room in the list, with its online count.
pub struct RoomEntry {
    pub room: RoomRow,
    pub online: u64,
    /// Its video is live now.
    pub live: bool,
}

#[derive(Template)]
#[template(path = "live_list.html")]
pub struct LiveListPage {
    pub layout: Layout,
    pub rooms: Vec<RoomEntry>,
    pub error: String,
}

#[derive(Template)]
#[template(path = "live_room.html")]
pub struct LiveRoomPage {
    pub layout: Layout,
    pub room: RoomRow,
    pub online: u64,
    pub max_chars: usize,
    /// The room can show video: it pulls a source, or publishers can push to it.
    pub has_video: bool,
    /// The owner's (or an admin's) go-live panel: the RTMP server to show.
    pub go_live: Option<String>,
    /// The viewer's name, for spotting their own messages ("" for visitors).
    pub username: String,
    /// The viewer moderates the room: the moderation panel, and no slow mode.
    pub can_moderate: bool,
    /// The viewer is its owner or an admin: they name its moderators.
    pub owns: bool,
    /// Slow mode's choices: seconds and label (the room's own value among them).
    pub slow_choices: Vec<(i32, String)>,
}

/// Slow mode's usual choices.
const SLOW_CHOICES: [i32; 8] = [0, 3, 5, 10, 30, 60, 120, 300];

fn slow_choices(current: i32) -> Vec<(i32, String)> {
    let mut secs: Vec<i32> = SLOW_CHOICES.to_vec();
    if !secs.contains(&current) {
        secs.push(current);
        secs.sort();
    }
    secs.into_iter()
        .map(|s| {
            let label = match s {
                0 => "Off".to_string(),
                s if s % 60 == 0 => format!("One message per {} min", s / 60),
                s => format!("One message per {s} s"),
            };
            (s, label)
        })
        .collect()
}

async fn list_page(
    req: &HttpRequest,
    state: &AppState,
    user: Option<crate::auth::AuthUser>,
    error: String,
) -> Result<LiveListPage, PageError> {
    let rows = db::blocking(&state.pool, |c| rooms::list(c, 100, 0)).await?;
    let counts = online_counts(state, rows.iter().map(|r| r.id.clone()).collect()).await;
    let live = crate::ingest::live_rooms(state).await;
    let mut rooms: Vec<RoomEntry> = rows
        .into_iter()
        .map(|room| {
            let online = counts.get(&room.id).copied().unwrap_or(0);
            let live = live.contains(&room.id);
            RoomEntry { room, online, live }
        })
        .collect();
    // Live rooms first, then the busiest; the listing's own order (newest first) breaks ties.
    rooms.sort_by_key(|r| (std::cmp::Reverse(r.live), std::cmp::Reverse(r.online)));
    Ok(LiveListPage {
        layout: Layout::with_form(req, user, "Live rooms"),
        rooms,
        error,
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let page = list_page(&req, &state, user, String::new()).await?;
    Ok(render(StatusCode::OK, &page.layout, &page))
}

#[derive(Deserialize)]
pub struct NewRoomForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /live`: a signed-in user opens a room and lands in it.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    form: web::Form<NewRoomForm>,
) -> Result<HttpResponse, PageError> {
    if !csrf::verify(&req, user.as_ref(), &form.csrf_token) {
        return Err(PageError::forbidden(&ApiError::CsrfRejected.to_string()));
    }
    let Some(owner) = user.clone() else {
        return Ok(see_other("/login").finish());
    };
    let title = match RoomTitle::parse(&form.title) {
        Ok(t) => t,
        Err(e) => {
            let page = list_page(&req, &state, user, e).await?;
            return Ok(render(StatusCode::BAD_REQUEST, &page.layout, &page));
        }
    };
    match create_room(&state, &owner, title, None, false).await {
        Ok(row) => Ok(see_other(&format!("/live/{}", row.id)).finish()),
        Err(e @ (ApiError::SlowDown { .. } | ApiError::Forbidden(_))) => {
            let page = list_page(&req, &state, user, e.to_string()).await?;
            let status = actix_web::ResponseError::status_code(&e);
            Ok(render(status, &page.layout, &page))
        }
        Err(e) => Err(PageError::internal("opening a room", &e)),
    }
}

pub async fn room(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let room = db::blocking(&state.pool, move |c| rooms::find(c, &id))
        .await?
        .ok_or_else(PageError::not_found)?;
    let online = online_count(&state, &room.id).await;
    let pushed = room.source_url.is_none() && state.rtmp_url.is_some();
    let may_publish = user
        .as_ref()
        .is_some_and(|u| u.user_id == room.owner_id || u.is_admin());
    let can_moderate = match &user {
        Some(u) => crate::actions::rooms::may_moderate(&state, &room, u)
            .await
            .map_err(|e| PageError::internal("checking moderators", &e))?,
        None => false,
    };
    let page = LiveRoomPage {
        go_live: (pushed && may_publish).then(|| state.rtmp_url.clone().unwrap_or_default()),
        username: user
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default(),
        can_moderate,
        owns: may_publish,
        slow_choices: slow_choices(room.slow_mode_secs),
        has_video: room.source_url.is_some() || pushed,
        layout: Layout::new(user, room.title.clone()),
        room,
        online,
        max_chars: state.settings.danmaku.max_chars,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}
