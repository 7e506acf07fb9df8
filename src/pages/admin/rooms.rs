//! `/admin/rooms`: every room with its source (password hidden), online count and pipeline
//! (state, progress, restarts, last error, kept current by `static/admin.js`); forms to open
//! a room with a source, change or remove a source, and start, stop or restart a pipeline;
//! a link to the room's live picture.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{gate, gate_post, CsrfOnly};
use crate::actions::rooms::{control_pipeline, create_room, find_room, update_room};
use crate::auth::PageUser;
use crate::context::AppState;
use crate::db::{self, rooms, rooms::RoomRow};
use crate::domain::{RoomTitle, SourceUrl};
use crate::error::PageError;
use crate::pages::{render, see_other, Layout};

pub struct RoomEntry {
    pub room: RoomRow,
    /// The source with its password hidden; empty for a room without one.
    pub source: String,
    pub online: u64,
}

#[derive(Template)]
#[template(path = "admin_rooms.html")]
pub struct RoomsPage {
    pub layout: Layout,
    pub rooms: Vec<RoomEntry>,
    pub error: String,
}

async fn rooms_page(
    state: &AppState,
    user: crate::auth::AuthUser,
    error: String,
) -> Result<RoomsPage, PageError> {
    let rows = db::blocking(&state.pool, |c| rooms::list(c, 200, 0)).await?;
    let online =
        crate::live::online_counts(state, rows.iter().map(|r| r.id.clone()).collect()).await;
    let rooms = rows
        .into_iter()
        .map(|room| RoomEntry {
            source: room
                .source_url
                .as_deref()
                .map(crate::config::redact_url_password)
                .unwrap_or_default(),
            online: online.get(&room.id).copied().unwrap_or(0),
            room,
        })
        .collect();
    Ok(RoomsPage {
        layout: Layout::new(Some(user), "Rooms and sources"),
        rooms,
        error,
    })
}

/// `GET /admin/rooms`
pub async fn page(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let user = gate(user)?;
    let page = rooms_page(&state, user, String::new()).await?;
    Ok(render(StatusCode::OK, &page.layout, &page))
}

#[derive(Deserialize)]
pub struct NewRoomForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    source_url: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    on_demand: Option<String>,
}

/// Parses a source from a form: empty means none.
fn parse_source(state: &AppState, text: &str) -> Result<Option<SourceUrl>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    SourceUrl::parse(text, state.settings.ingest.allow_files).map(Some)
}

/// `POST /admin/rooms`: a new room, with a source if one is given.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    form: web::Form<NewRoomForm>,
) -> Result<HttpResponse, PageError> {
    let user = gate_post(&req, user, &form.csrf_token)?;
    let form = form.into_inner();
    let parsed = RoomTitle::parse(&form.title)
        .and_then(|title| parse_source(&state, &form.source_url).map(|s| (title, s)));
    let (title, source) = match parsed {
        Ok(ok) => ok,
        Err(e) => {
            let page = rooms_page(&state, user, e).await?;
            return Ok(render(StatusCode::BAD_REQUEST, &page.layout, &page));
        }
    };
    let on_demand = form.on_demand.is_some();
    create_room(&state, &user, title, source, on_demand).await?;
    Ok(see_other("/admin/rooms").finish())
}

#[derive(Deserialize)]
pub struct SourceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    source_url: String,
    #[serde(default)]
    on_demand: Option<String>,
}

/// `POST /admin/rooms/{id}/source`: changes or (when empty) removes a room's source.
pub async fn set_source(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    id: web::Path<String>,
    form: web::Form<SourceForm>,
) -> Result<HttpResponse, PageError> {
    let user = gate_post(&req, user, &form.csrf_token)?;
    let form = form.into_inner();
    let id = id.into_inner();
    // The form shows the stored source redacted; sent back unchanged it means "keep the
    // stored one", never "store the stars as the camera's password".
    let stored = find_room(&state, id.clone()).await?.source_url;
    let unchanged = stored
        .as_deref()
        .is_some_and(|url| crate::config::redact_url_password(url) == form.source_url.trim());
    if unchanged {
        let changes = rooms::RoomChanges {
            title: None,
            source_url: None,
            on_demand: Some(form.on_demand.is_some()),
            source_stopped: None,
            slow_mode_secs: None,
        };
        update_room(&state, &user, id, changes).await?;
        return Ok(see_other("/admin/rooms").finish());
    }
    let source = match parse_source(&state, &form.source_url) {
        Ok(s) => s,
        Err(e) => {
            let page = rooms_page(&state, user, e).await?;
            return Ok(render(StatusCode::BAD_REQUEST, &page.layout, &page));
        }
    };
    let changes = rooms::RoomChanges {
        title: None,
        source_url: Some(source.as_ref().map(|s| s.expose().to_string())),
        on_demand: Some(form.on_demand.is_some()),
        source_stopped: None,
        slow_mode_secs: None,
    };
    update_room(&state, &user, id, changes).await?;
    Ok(see_other("/admin/rooms").finish())
}

/// `POST /admin/rooms/{id}/ingest/{start,stop,restart}`
pub async fn control(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let user = gate_post(&req, user, &form.csrf_token)?;
    let (id, action) = path.into_inner();
    control_pipeline(&state, &user, id.clone(), &action).await?;
    Ok(see_other(&format!("/admin/rooms#room-{id}")).finish())
}
