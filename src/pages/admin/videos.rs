//! `/admin/videos`: every video that is not deleted (processing, ready, failed) with its
//! owner, size and state; delete any of them (the files go with the cleanup job).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{gate, gate_post, CsrfOnly};
use crate::auth::PageUser;
use crate::context::AppState;
use crate::db::{self, videos::VideoRow};
use crate::error::PageError;
use crate::pages::{render, see_other, Layout};

/// Videos listed.
const LIMIT: i64 = 200;

#[derive(Template)]
#[template(path = "admin_videos.html")]
pub struct VideosPage {
    pub layout: Layout,
    pub videos: Vec<VideoRow>,
}

impl VideosPage {
    pub fn when(&self, t: &chrono::NaiveDateTime) -> String {
        super::when(t)
    }

    pub fn megabytes(&self, bytes: &i64) -> String {
        format!("{:.1} MB", *bytes as f64 / 1_000_000.0)
    }
}

/// `GET /admin/videos`
pub async fn page(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let user = gate(user)?;
    let videos = db::blocking(&state.pool, |c| db::videos::list_all(c, LIMIT)).await?;
    let page = VideosPage {
        layout: Layout::new(Some(user), "Videos"),
        videos,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// `POST /admin/videos/{id}/delete`
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = gate_post(&req, user, &form.csrf_token)?;
    crate::actions::videos::delete_video(&state, &admin, id.into_inner()).await?;
    Ok(see_other("/admin/videos").finish())
}
