//! The admin panel under `/admin`: server-rendered pages for admins only (visitors are sent
//! to the login page, everyone else gets 403), every action a form post with the session's
//! CSRF token, and every action written to the audit log. `static/admin.js` keeps the
//! dashboard, the rooms and the jobs live by polling `/admin/overview.json`.

pub mod jobs;
pub mod moderation;
pub mod overview;
pub mod rooms;
pub mod users;
pub mod videos;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, Layout};
use crate::auth::{csrf, AuthUser, PageUser};
use crate::context::AppState;
use crate::db::{self, audit::AuditRow};
use crate::error::{ApiError, PageError};

/// The signed-in admin; otherwise the login page for visitors, 403 for signed-in users who
/// are not admins.
pub fn gate(user: Option<AuthUser>) -> Result<AuthUser, PageError> {
    match user {
        None => Err(PageError::sign_in()),
        Some(user) if user.is_admin() => Ok(user),
        Some(_) => Err(PageError::forbidden("the admin panel is for admins only")),
    }
}

/// A form post's CSRF token, checked before anything happens.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf_token: String,
}

/// The admin behind a form post, once its CSRF token matched.
pub fn gate_post(
    req: &HttpRequest,
    user: Option<AuthUser>,
    token: &str,
) -> Result<AuthUser, PageError> {
    let user = gate(user)?;
    if csrf::verify(req, Some(&user), token) {
        Ok(user)
    } else {
        Err(PageError::forbidden(&ApiError::CsrfRejected.to_string()))
    }
}

/// Formats a UTC timestamp for tables.
pub fn when(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub entries: Vec<AuditRow>,
}

/// `GET /admin/audit`
pub async fn audit(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let user = gate(user)?;
    let entries = db::blocking(&state.pool, |c| db::audit::recent(c, 200)).await?;
    let page = AuditPage {
        layout: Layout::new(Some(user), "Audit log"),
        entries,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// Every admin route, under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(overview::dashboard))
        .route("/admin/overview.json", web::get().to(overview::json))
        .route("/admin/audit", web::get().to(audit))
        .route("/admin/jobs", web::get().to(jobs::page))
        .route("/admin/jobs/{kind}/run", web::post().to(jobs::run_now))
        .route("/admin/jobs/{kind}/pause", web::post().to(jobs::pause))
        .route("/admin/jobs/{kind}/resume", web::post().to(jobs::resume))
        .route("/admin/jobs/runs/{id}/retry", web::post().to(jobs::retry))
        .route("/admin/rooms", web::get().to(rooms::page))
        .route("/admin/rooms", web::post().to(rooms::create))
        .route(
            "/admin/rooms/{id}/source",
            web::post().to(rooms::set_source),
        )
        .route(
            "/admin/rooms/{id}/ingest/{action}",
            web::post().to(rooms::control),
        )
        .route("/admin/users", web::get().to(users::page))
        .route("/admin/users/{id}/role", web::post().to(users::set_role))
        .route("/admin/users/{id}/disable", web::post().to(users::disable))
        .route("/admin/users/{id}/enable", web::post().to(users::enable))
        .route("/admin/moderation", web::get().to(moderation::page))
        .route(
            "/admin/moderation/{room}/{msg}/remove",
            web::post().to(moderation::remove),
        )
        .route(
            "/admin/moderation/{room}/mute",
            web::post().to(moderation::mute),
        )
        .route(
            "/admin/moderation/{room}/unban/{user_id}",
            web::post().to(moderation::unban),
        )
        .route(
            "/admin/moderation/filters",
            web::post().to(moderation::filters),
        )
        .route("/admin/videos", web::get().to(videos::page))
        .route("/admin/videos/{id}/delete", web::post().to(videos::delete));
}
