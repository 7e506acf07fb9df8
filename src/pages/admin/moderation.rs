//! `/admin/moderation`: the newest live-room messages across every room, each with its room
//! and author; remove a message (it is retracted on every screen), mute its author in that
//! room for ten minutes, or ban them from sending there for thirty days (both asked first).
//! Below: the bans and mutes in force, each with a button that lifts it, and the site's
//! blocked words, which hold in every room. Disabling an account is on the users page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{gate, gate_post, CsrfOnly};
use crate::actions::filters::{set_filters, show_filters, Scope};
use crate::actions::rooms::{ban_user, lift_ban, retract_message, MUTE_SECS};
use crate::auth::PageUser;
use crate::context::AppState;
use crate::db::{self, danmaku::ModerationRow, moderation::SiteBanRow};
use crate::error::PageError;
use crate::pages::{render, see_other, Layout};

/// Messages listed.
const RECENT: i64 = 100;
/// Bans listed.
const BANS: i64 = 200;
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
    pub bans: Vec<SiteBanRow>,
    /// The site's blocked words, one per line.
    pub words: String,
    /// What went wrong with the last change, if anything.
    pub error: String,
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
    let page = moderation_page(&state, user, String::new(), None).await?;
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// The page for `admin`; `words` keeps what they typed when it was refused.
async fn moderation_page(
    state: &AppState,
    admin: crate::auth::AuthUser,
    error: String,
    words: Option<String>,
) -> Result<ModerationPage, PageError> {
    let messages =
        db::blocking(&state.pool, |c| db::danmaku::recent_across_rooms(c, RECENT)).await?;
    let bans = db::blocking(&state.pool, |c| {
        db::moderation::active_bans_everywhere(c, BANS)
    })
    .await?;
    let words = match words {
        Some(w) => w,
        None => show_filters(state, &admin, Scope::Site).await?.join("\n"),
    };
    Ok(ModerationPage {
        layout: Layout::new(Some(admin), "Moderation"),
        messages,
        mute_secs: MUTE_SECS,
        ban_secs: BAN_SECS,
        bans,
        words,
        error,
    })
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

/// `POST /admin/moderation/{room}/unban/{user_id}`: lifts a ban or mute.
pub async fn unban(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = gate_post(&req, user, &form.csrf_token)?;
    let (room, user_id) = path.into_inner();
    match lift_ban(&state, &admin, room, user_id).await {
        // Already ended or lifted elsewhere: the list is simply current again.
        Ok(()) | Err(crate::error::ApiError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/admin/moderation").finish())
}

#[derive(Deserialize)]
pub struct WordsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    words: String,
}

/// `POST /admin/moderation/filters`: the site's blocked words, one per line.
pub async fn filters(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    form: web::Form<WordsForm>,
) -> Result<HttpResponse, PageError> {
    let admin = gate_post(&req, user, &form.csrf_token)?;
    let words: Vec<String> = form.words.lines().map(str::to_string).collect();
    match set_filters(&state, &admin, Scope::Site, words).await {
        Ok(_) => Ok(see_other("/admin/moderation").finish()),
        Err(crate::error::ApiError::Invalid(why)) => {
            let page = moderation_page(&state, admin, why, Some(form.words.clone())).await?;
            Ok(render(StatusCode::BAD_REQUEST, &page.layout, &page))
        }
        Err(e) => Err(e.into()),
    }
}
