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
    let page = LiveRoomPage {
        go_live: (pushed && may_publish).then(|| state.rtmp_url.clone().unwrap_or_default()),
        has_video: room.source_url.is_some() || pushed,
        layout: Layout::new(user, room.title.clone()),
        room,
        online,
        max_chars: state.settings.danmaku.max_chars,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}
