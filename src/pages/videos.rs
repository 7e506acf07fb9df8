//! `/videos` (the library: a grid of ready videos with paging), `/videos/{id}` (the watch
//! page: player, time-anchored danmaku overlay, description, comments) and `/upload`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::home::DurationLabel;
use super::{render, see_other, Layout};
use crate::auth::{csrf, AuthUser, PageUser};
use crate::context::AppState;
use crate::db::{self, comments::CommentRow, videos::VideoRow};
use crate::domain::{CommentBody, VideoDescription, VideoTitle};
use crate::error::{ApiError, PageError};

const PER_PAGE: i64 = 24;
const COMMENTS_SHOWN: i64 = 100;

#[derive(Template)]
#[template(path = "videos_list.html")]
pub struct LibraryPage {
    pub layout: Layout,
    pub videos: Vec<VideoRow>,
    pub page: i64,
    pub pages: i64,
}

impl LibraryPage {
    fn duration(&self, video: &VideoRow) -> DurationLabel {
        DurationLabel(video.duration_ms)
    }
}

#[derive(Deserialize)]
pub struct LibraryQuery {
    page: Option<i64>,
}

/// `GET /videos?page=N`
pub async fn library(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    query: web::Query<LibraryQuery>,
) -> Result<HttpResponse, PageError> {
    let page = query.page.unwrap_or(1).max(1);
    // A huge page number is a page past the end, not a wrap-around to page 1.
    let offset = (page - 1).saturating_mul(PER_PAGE);
    let (videos, total) = db::blocking(&state.pool, move |c| {
        let rows = db::videos::list_ready(c, PER_PAGE, offset)?;
        Ok((rows, db::videos::count_ready(c)?))
    })
    .await?;
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    let page = LibraryPage {
        layout: Layout::new(user, "Videos"),
        videos,
        page,
        pages: pages.max(1),
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

#[derive(Template)]
#[template(path = "video_watch.html")]
pub struct WatchPage {
    pub layout: Layout,
    pub video: VideoRow,
    pub comments: Vec<CommentRow>,
    pub max_chars: usize,
    pub comment_error: String,
    pub can_delete: bool,
}

impl WatchPage {
    fn duration(&self) -> DurationLabel {
        DurationLabel(self.video.duration_ms)
    }
}

async fn watch_page(
    req: &HttpRequest,
    state: &AppState,
    user: Option<AuthUser>,
    id: String,
    comment_error: String,
) -> Result<WatchPage, PageError> {
    let (video, comments) = db::blocking(&state.pool, move |c| {
        let Some(video) = db::videos::find_visible(c, &id)? else {
            return Ok((None, Vec::new()));
        };
        let comments = db::comments::list(c, &video.id, COMMENTS_SHOWN, 0)?;
        Ok((Some(video), comments))
    })
    .await?;
    let video = video.ok_or_else(PageError::not_found)?;
    let owner_or_admin = user
        .as_ref()
        .is_some_and(|u| u.user_id == video.owner_id || u.is_admin());
    if !video.is_ready() && !owner_or_admin {
        return Err(PageError::not_found());
    }
    Ok(WatchPage {
        layout: Layout::with_form(req, user, video.title.clone()),
        video,
        comments,
        max_chars: state.settings.danmaku.max_chars,
        comment_error,
        can_delete: owner_or_admin,
    })
}

/// `GET /videos/{id}`
pub async fn watch(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let page = watch_page(&req, &state, user, id.into_inner(), String::new()).await?;
    Ok(render(StatusCode::OK, &page.layout, &page))
}

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /videos/{id}/comments`: the watch page's comment form.
pub async fn comment(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    id: web::Path<String>,
    form: web::Form<CommentForm>,
) -> Result<HttpResponse, PageError> {
    if !csrf::verify(&req, user.as_ref(), &form.csrf_token) {
        return Err(PageError::forbidden(&ApiError::CsrfRejected.to_string()));
    }
    let id = id.into_inner();
    let Some(author) = user.clone() else {
        return Ok(see_other("/login").finish());
    };
    // The author's mistakes and limits are shown above the form; the rest are error pages.
    let added = match CommentBody::parse(&form.body) {
        Err(e) => Err((StatusCode::BAD_REQUEST, e)),
        Ok(body) => {
            match crate::actions::videos::add_comment(&state, &author, id.clone(), body).await {
                Ok(_) => Ok(()),
                Err(e @ ApiError::SlowDown { .. }) => {
                    Err((StatusCode::TOO_MANY_REQUESTS, e.to_string()))
                }
                Err(ApiError::NotFound(_)) => return Err(PageError::not_found()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    if let Err((status, e)) = added {
        let page = watch_page(&req, &state, user, id, e).await?;
        return Ok(render(status, &page.layout, &page));
    }
    Ok(see_other(&format!("/videos/{id}#comments")).finish())
}

#[derive(Template)]
#[template(path = "upload.html")]
pub struct UploadPage {
    pub layout: Layout,
    pub max_bytes: u64,
    pub title_max: usize,
    pub description_max: usize,
}

/// `GET /upload`: signed-in users only.
pub async fn upload(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    if user.is_none() {
        return Ok(see_other("/login").finish());
    }
    let page = UploadPage {
        layout: Layout::new(user, "Upload a video"),
        max_bytes: state.settings.upload.max_bytes,
        title_max: VideoTitle::MAX_CHARS,
        description_max: VideoDescription::MAX_CHARS,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}
