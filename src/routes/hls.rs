//! `GET /hls/{room}/{file}`: a live room's HLS playlist (never cached) and segments, read
//! from `storage.dir/live/{room}/` off the worker threads. Only the names ffmpeg writes are
//! served: `index.m3u8` and `seg{N}.ts`.
//!
//! A live playlist is rewritten with every segment. One that has not changed for three target
//! durations (at least 6 s) belongs to a source that is down or a server that stopped, so it
//! is answered 404 like a room without a source: players show their offline state and retry
//! instead of replaying the last segments. The rule needs no state, so it holds for any node
//! that shares the storage directory.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;

use crate::context::AppState;
use crate::error::ApiError;

/// What a requested name is, if it is one ffmpeg writes.
fn content_type(file: &str) -> Option<(&'static str, &'static str)> {
    if file == "index.m3u8" {
        return Some(("application/vnd.apple.mpegurl", "no-cache, no-store"));
    }
    let number = file.strip_prefix("seg")?.strip_suffix(".ts")?;
    (!number.is_empty() && number.len() <= 12 && number.bytes().all(|b| b.is_ascii_digit()))
        .then_some(("video/mp2t", "public, max-age=60"))
}

/// How long a playlist may go unchanged before its source counts as down.
fn stale_after(playlist: &[u8]) -> Duration {
    let target = std::str::from_utf8(playlist)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(1);
    Duration::from_secs((3 * target).max(6))
}

/// Reads a live file; a playlist that is stale reads as missing.
fn read_live(path: &std::path::Path, playlist: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;

    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    if playlist {
        let age = file.metadata()?.modified()?.elapsed().unwrap_or_default();
        if age > stale_after(&bytes) {
            return Err(std::io::ErrorKind::NotFound.into());
        }
    }
    Ok(bytes)
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
    let playlist = file == "index.m3u8";
    let bytes = web::block(move || read_live(&full, playlist))
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
    use std::time::SystemTime;

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

    #[test]
    fn a_playlist_is_stale_after_three_target_durations_and_at_least_six_seconds() {
        let list = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg0.ts\n";
        assert_eq!(stale_after(list), Duration::from_secs(12));
        assert_eq!(
            stale_after(b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n"),
            Duration::from_secs(6)
        );
        assert_eq!(stale_after(b"garbage"), Duration::from_secs(6));
    }

    #[test]
    fn an_old_playlist_reads_as_missing_and_a_fresh_one_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.m3u8");
        std::fs::write(&path, b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n").unwrap();
        assert!(read_live(&path, true).is_ok());
        let old = SystemTime::now() - Duration::from_secs(7);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let err = read_live(&path, true).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        // Segments are not judged by age.
        assert!(read_live(&path, false).is_ok());
    }
}
