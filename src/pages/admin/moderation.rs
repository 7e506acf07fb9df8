//! `/admin/moderation`: the newest live-room messages across every room, each with its room
//! and author; remove a message (it is retracted on every screen), mute its author in that
//! room for ten minutes, or ban them from sending there for thirty days. Disabling an account
//! is on the users page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{gate, gate_post, CsrfOnly};
use crate::actions::rooms::{ban_user, retract_message, MUTE_SECS};
use crate::auth::PageUser;
use crate::context::AppState;
use crate::db::{self, danmaku::ModerationRow};
use crate::error::PageError;
use crate::pages::{render, see_other, Layout};

/// Messages listed.
const RECENT: i64 = 100;
/// A mute: ten minutes.
/// A ban: thirty days.
pub const BAN_SECS: u64 = 30 * 24 * 3600;

#[derive(Template)]
#[template(path = "admin_moderation.html")]
pub struct ModerationPage {
    pub layout: Layout,
    pub messages: Vec<ModerationRow>,
    pub mute_secs: u64,
    pub ban_secs: u64,
}

impl ModerationPage {
    pub fn when(&self, t: &chrono::NaiveDateTime) -> String {
        super::when(t)
    }
}

/// `GET /admin/moderation`
pub async fn page(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let user = gate(user)?;
    let messages =
        db::blocking(&state.pool, |c| db::danmaku::recent_across_rooms(c, RECENT)).await?;
    let page = ModerationPage {
        layout: Layout::new(Some(user), "Moderation"),
        messages,
        mute_secs: MUTE_SECS,
        ban_secs: BAN_SECS,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// `POST /admin/moderation/{room}/{msg}/remove`
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = gate_post(&req, user, &form.csrf_token)?;
    let (room, msg) = path.into_inner();
    retract_message(&state, &admin, room, msg).await?;
    Ok(see_other("/admin/moderation").finish())
}

#[derive(Deserialize)]
pub struct MuteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    seconds: u64,
}

/// `POST /admin/moderation/{room}/mute` with `user` and `seconds` (a mute or a ban).
pub async fn mute(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    room: web::Path<String>,
    form: web::Form<MuteForm>,
) -> Result<HttpResponse, PageError> {
    let admin = gate_post(&req, user, &form.csrf_token)?;
    let form = form.into_inner();
    let reason = format!("by {} from the admin panel", admin.username);
    ban_user(
        &state,
        &admin,
        room.into_inner(),
        form.user,
        form.seconds,
        reason,
    )
    .await?;
    Ok(see_other("/admin/moderation").finish())
}
