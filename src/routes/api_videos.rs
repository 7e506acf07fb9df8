//! `/api/videos`: upload, list, show and delete videos; their comments and time-anchored
//! danmaku.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use roomcast_actors::danmaku::{parse_color, parse_mode, DanmakuText};
use serde::Deserialize;

use crate::auth::{AuthUser, CurrentUser, MaybeUser};
use crate::context::AppState;
use crate::db::{self, video_danmaku::NewVideoDanmaku, videos::VideoRow};
use crate::domain::{CommentBody, VideoDescription, VideoTitle};
use crate::error::ApiError;
use crate::videos::intake::{self, Arrived};
use crate::videos::json::{CommentJson, VideoJson};
use crate::videos::upload;

const MAX_PER_PAGE: i64 = 100;
/// Most time-anchored messages one request returns.
const MAX_DANMAKU: i64 = 5000;

/// `POST /api/videos`: multipart `title`, `description`, `file` -> 201 (status `processing`).
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    crate::videos::intake::tools_ready(&state)?;
    let max = state.settings.upload.max_bytes;
    // A declared length past the quota is refused before a byte is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared {
        let file_part = declared.saturating_sub(upload::FORM_OVERHEAD);
        crate::videos::quota::check(&state, &user.user_id, file_part).await?;
    }
    let payload = crate::limits::progress::slow_body(&req, payload, state.write_timeout()).await;
    let form = upload::receive(req.headers(), payload, &state.storage, max).await?;
    let title = VideoTitle::parse(&form.title).map_err(ApiError::Invalid)?;
    let description = VideoDescription::parse(&form.description).map_err(ApiError::Invalid)?;
    let size = form.file.len();
    {
        let _quota = state.resumable.quota.lock().await;
        crate::videos::quota::check(&state, &user.user_id, size).await?;
    }
    let path = form.file.keep();
    let video = intake::accept(
        &state,
        Arrived {
            path,
            size,
            owner_id: user.user_id,
            title,
            description,
        },
    )
    .await?;
    Ok(created(video))
}

pub fn created(video: VideoRow) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/videos/{}", video.id)))
        .json(VideoJson::from(video))
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
    per_page: Option<i64>,
}

/// `GET /api/videos?page=&per_page=`: ready videos, newest first.
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page.unwrap_or(1).max(1);
    let per_page = query.per_page.unwrap_or(24).clamp(1, MAX_PER_PAGE);
    let (rows, total) = db::blocking(&state.pool, move |c| {
        let rows = db::videos::list_ready(c, per_page, (page - 1).saturating_mul(per_page))?;
        Ok((rows, db::videos::count_ready(c)?))
    })
    .await?;
    let videos: Vec<VideoJson> = rows.into_iter().map(VideoJson::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "videos": videos,
        "page": page,
        "per_page": per_page,
        "total": total,
    })))
}

/// A video the caller may see: ready ones for everyone, others for their owner and admins.
pub async fn visible_video(
    state: &AppState,
    user: Option<&AuthUser>,
    id: String,
) -> Result<VideoRow, ApiError> {
    let video = db::blocking(&state.pool, move |c| db::videos::find_visible(c, &id)).await?;
    match video {
        Some(v)
            if v.is_ready() || user.is_some_and(|u| u.user_id == v.owner_id || u.is_admin()) =>
        {
            Ok(v)
        }
        _ => Err(ApiError::NotFound("no such video".into())),
    }
}

async fn ready_video(state: &AppState, id: String) -> Result<VideoRow, ApiError> {
    visible_video(state, None, id).await
}

/// `GET /api/videos/{id}`
pub async fn show(
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let video = visible_video(&state, user.as_ref(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(VideoJson::from(video)))
}

/// `DELETE /api/videos/{id}`: owner or admin -> 202. The row is marked deleted and the
/// deletion recorded in one transaction; the cleanup job removes the files.
pub async fn delete(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let video = crate::actions::videos::delete_video(&state, &user, id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "id": video.id, "status": "deleted" })))
}

#[derive(Deserialize)]
pub struct CommentQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/videos/{id}/comments?limit=&offset=`: newest first.
pub async fn comments(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<CommentQuery>,
) -> Result<HttpResponse, ApiError> {
    let video = ready_video(&state, id.into_inner()).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PER_PAGE);
    let offset = query.offset.unwrap_or(0).max(0);
    let rows = db::blocking(&state.pool, move |c| {
        db::comments::list(c, &video.id, limit, offset)
    })
    .await?;
    let comments: Vec<CommentJson> = rows.into_iter().map(CommentJson::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "comments": comments })))
}

#[derive(Deserialize)]
pub struct NewComment {
    body: String,
}

/// `POST /api/videos/{id}/comments` `{body}` -> 201.
pub async fn add_comment(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    body: web::Json<NewComment>,
) -> Result<HttpResponse, ApiError> {
    let text = CommentBody::parse(&body.body).map_err(ApiError::Invalid)?;
    let row = crate::actions::videos::add_comment(&state, &user, id.into_inner(), text).await?;
    Ok(HttpResponse::Created().json(CommentJson::from(row)))
}

#[derive(Deserialize)]
pub struct DanmakuQuery {
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/videos/{id}/danmaku?from_ms=&to_ms=`: messages in playback order.
pub async fn danmaku(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DanmakuQuery>,
) -> Result<HttpResponse, ApiError> {
    let from = query.from_ms.unwrap_or(0).max(0);
    let to = query.to_ms.unwrap_or(i64::MAX);
    if to < from {
        return Err(ApiError::Invalid("to_ms must not be before from_ms".into()));
    }
    let limit = query.limit.unwrap_or(MAX_DANMAKU).clamp(1, MAX_DANMAKU);
    let video = ready_video(&state, id.into_inner()).await?;
    let items = db::blocking(&state.pool, move |c| {
        db::video_danmaku::in_range(c, &video.id, from, to, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Deserialize)]
pub struct DensityQuery {
    buckets: Option<usize>,
}

/// `GET /api/videos/{id}/danmaku/density?buckets=N` (1 to 1000, default 100): how many
/// messages are anchored in each of N equal slices of the video.
pub async fn danmaku_density(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DensityQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::videos::density::{density, MAX_BUCKETS};
    let buckets = query.buckets.unwrap_or(100);
    if !(1..=MAX_BUCKETS).contains(&buckets) {
        return Err(ApiError::Invalid(format!(
            "buckets must be 1 to {MAX_BUCKETS}"
        )));
    }
    let video = ready_video(&state, id.into_inner()).await?;
    let duration = video.duration_ms.unwrap_or(0);
    let anchors = db::blocking(&state.pool, move |c| {
        db::video_danmaku::anchors(c, &video.id)
    })
    .await?;
    let counts = density(&anchors, duration, buckets);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "duration_ms": duration,
        "buckets": counts,
        "max": counts.iter().copied().max().unwrap_or(0),
        "total": anchors.len(),
    })))
}

#[derive(Deserialize)]
pub struct NewDanmaku {
    ts_ms: i64,
    text: String,
    color: Option<String>,
    mode: Option<String>,
}

/// `POST /api/videos/{id}/danmaku` `{ts_ms, text, color?, mode?}` -> 201, under the live
/// rooms' text rules and rate limit.
pub async fn add_danmaku(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    body: web::Json<NewDanmaku>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let invalid = |e: roomcast_actors::danmaku::DanmakuError| ApiError::Invalid(e.to_string());
    let text = DanmakuText::parse(&body.text, state.settings.danmaku.max_chars).map_err(invalid)?;
    let color = parse_color(body.color.as_deref()).map_err(invalid)?;
    let mode = parse_mode(body.mode.as_deref()).map_err(invalid)?;
    let video = ready_video(&state, id.into_inner()).await?;
    let duration = video.duration_ms.unwrap_or(0);
    if !(0..=duration).contains(&body.ts_ms) {
        return Err(ApiError::Invalid(format!(
            "ts_ms must be between 0 and the video's duration ({duration} ms)"
        )));
    }
    state
        .video_flood
        .lock()
        .expect("flood control poisoned")
        .check(&user.user_id, &video.id, Instant::now())?;
    // The site's blocked words hold for video danmaku as for live rooms.
    let site_words = state
        .rooms
        .send(roomcast_actors::registry::GetGlobalFilter)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if site_words.matches(text.as_str()) {
        return Err(ApiError::Filtered);
    }
    let text = text.into_string();
    let item = db::blocking(&state.pool, move |c| {
        db::video_danmaku::create(
            c,
            &NewVideoDanmaku {
                video_id: &video.id,
                author_id: &user.user_id,
                author: &user.username,
                text: &text,
                color: &color,
                mode: mode.as_str(),
                ts_ms: body.ts_ms,
            },
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(item))
}
