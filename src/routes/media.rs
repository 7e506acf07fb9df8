//! Media files: `/videos/{id}/stream` (the video, under `stream.max_connections`) and
//! `/videos/{id}/thumbnail.jpg`. Only ready videos are served.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::context::AppState;
use crate::error::ApiError;
use crate::media::files::{self, CachePolicy};

/// Players revalidate (cheaply, with 304) so that a deleted video stops playing.
const VIDEO_CACHE: CachePolicy = CachePolicy("public, no-cache");
const THUMBNAIL_CACHE: CachePolicy = CachePolicy("public, max-age=300");

fn not_found() -> ApiError {
    ApiError::NotFound("no such video".into())
}

/// `GET`/`HEAD /videos/{id}/stream`
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let served = state
        .served
        .find(&state.pool, &id)
        .await?
        .ok_or_else(not_found)?;
    let path = state
        .storage
        .video_file(&served.file_name)
        .ok_or_else(not_found)?;
    let permit = state
        .streams
        .try_acquire()
        .ok_or(ApiError::TooManyStreams)?;
    serve(&req, &state, path, &served.mime, VIDEO_CACHE, Some(permit)).await
}

/// `GET`/`HEAD /videos/{id}/thumbnail.jpg`
pub async fn thumbnail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .served
        .find(&state.pool, &id)
        .await?
        .ok_or_else(not_found)?;
    let path = state.storage.thumbnail(&id);
    serve(&req, &state, path, "image/jpeg", THUMBNAIL_CACHE, None).await
}

async fn serve(
    req: &HttpRequest,
    state: &AppState,
    path: std::path::PathBuf,
    mime: &str,
    cache: CachePolicy,
    permit: Option<crate::media::limiter::StreamPermit>,
) -> Result<HttpResponse, ApiError> {
    match files::serve(
        req,
        &state.files,
        &path,
        mime,
        cache,
        permit,
        state.write_timeout(),
    )
    .await
    {
        Ok(res) => Ok(res),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found()),
        Err(e) => Err(ApiError::Internal(
            anyhow::Error::new(e).context("opening a media file"),
        )),
    }
}
