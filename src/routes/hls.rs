//! `GET /hls/{room}/{file}`: a live room's HLS playlist (never cached) and segments, read
//! from `storage.dir/live/{room}/` off the worker threads. Only the names ffmpeg writes are
//! served: `index.m3u8` and `seg{N}.ts`.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;

use crate::error::ApiError;
use crate::startup::AppState;

/// What a requested name is, if it is one ffmpeg writes.
fn content_type(file: &str) -> Option<(&'static str, &'static str)> {
    if file == "index.m3u8" {
        return Some(("application/vnd.apple.mpegurl", "no-cache, no-store"));
    }
    let number = file.strip_prefix("seg")?.strip_suffix(".ts")?;
    (!number.is_empty() && number.len() <= 12 && number.bytes().all(|b| b.is_ascii_digit()))
        .then_some(("video/mp2t", "public, max-age=60"))
}

fn is_room_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub async fn serve(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room, file) = path.into_inner();
    let not_found = || ApiError::NotFound("no such live file".into());
    let (mime, cache) = content_type(&file).ok_or_else(not_found)?;
    if !is_room_id(&room) {
        return Err(not_found());
    }
    let full = state
        .settings
        .storage
        .dir
        .join("live")
        .join(&room)
        .join(&file);
    let bytes = web::block(move || std::fs::read(full))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading a live file: {e}")))?
        .map_err(|_| not_found())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(Bytes::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ffmpegs_names_are_served() {
        assert!(content_type("index.m3u8").is_some());
        assert_eq!(content_type("seg12.ts").unwrap().0, "video/mp2t");
        for bad in [
            "seg.ts",
            "../x.ts",
            "seg1.ts.tmp",
            "index.m3u8.tmp",
            "segx.ts",
            "a.mp4",
            "seg1/2.ts",
        ] {
            assert!(content_type(bad).is_none(), "{bad}");
        }
        assert!(!is_room_id("../etc"));
    }
}
