//! Videos on demand: uploads, processing, Range streaming, comments, time-anchored danmaku
//! and deletion, against real media made by ffmpeg.

use std::time::Duration;

use awc::http::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Auth, Backend, TestApp};
use crate::media::{bytes, index_of, top_level_boxes, Fixture};

crate::on_both_backends!(
    an_upload_with_moov_at_the_end_becomes_ready_with_faststart_and_a_thumbnail,
    a_text_file_named_mp4_is_refused_with_422_and_nothing_is_kept,
    only_the_owner_or_an_admin_deletes_and_a_deleted_video_is_gone_at_once,
    comments_round_trip_through_the_api_and_the_page,
    time_anchored_danmaku_round_trip_under_the_live_rate_limit,
    the_danmaku_density_counts_messages_per_slice_of_the_video,
);

async fn sleep_ms(ms: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}

async fn an_upload_with_moov_at_the_end_becomes_ready_with_faststart_and_a_thumbnail(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    let original = bytes(Fixture::LateMoov);
    let boxes = top_level_boxes(&original);
    assert!(
        index_of(&boxes, "moov") > index_of(&boxes, "mdat"),
        "the fixture has moov last"
    );

    let res = app
        .upload(Auth::Bearer(&token), "Test card", "card.mp4", &original)
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    let id = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["status"], "processing");
    assert_eq!(res.header("location").unwrap(), format!("/api/videos/{id}"));

    let video = app.wait_processed(&token, &id).await;
    assert_eq!(video["status"], "ready", "{video}");
    assert_eq!(video["mime"], "video/mp4");
    assert_eq!(
        (video["width"].as_i64(), video["height"].as_i64()),
        (Some(320), Some(240))
    );
    assert_eq!(
        (video["video_codec"].as_str(), video["audio_codec"].as_str()),
        (Some("h264"), Some("aac"))
    );
    let duration = video["duration_ms"].as_i64().unwrap();
    assert!((2900..=3200).contains(&duration), "duration {duration}");

    let (status, headers, served) = app
        .get_raw(Method::GET, &format!("/videos/{id}/stream"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "video/mp4");
    let boxes = top_level_boxes(&served);
    assert!(
        index_of(&boxes, "moov") < index_of(&boxes, "mdat"),
        "faststart: {boxes:?}"
    );
    assert_eq!(video["size_bytes"].as_u64(), Some(served.len() as u64));

    let (status, headers, thumb) = app
        .get_raw(Method::GET, &format!("/videos/{id}/thumbnail.jpg"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "image/jpeg");
    assert_eq!(&thumb[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");

    assert_eq!(app.files_in("videos"), vec![format!("{id}.mp4")]);
    assert_eq!(app.files_in("thumbs"), vec![format!("{id}.jpg")]);
    app.assert_no_files_in("tmp").await;

    let list = app.json(Method::GET, "/api/videos", Auth::None, None).await;
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["videos"][0]["id"], id.as_str());
    let page = app.page("/videos", &[]).await;
    assert!(
        page.html.contains(&format!("/videos/{id}/thumbnail.jpg")),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("0:03") || page.html.contains("0:02"),
        "duration label"
    );
    let watch = app.page(&format!("/videos/{id}"), &[]).await;
    assert_eq!(watch.status, 200);
    assert!(watch.html.contains(&format!("src=\"/videos/{id}/stream\"")));
}

/// Uploads a ready video for a fresh user; returns the app's user token and the video id.
/// Makes a stored video's file 256 MiB long, more than any socket buffers hold.
pub(crate) fn grow_video_file(app: &TestApp, id: &str) {
    let path = app
        .settings
        .storage
        .dir
        .join("videos")
        .join(format!("{id}.mp4"));
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
}

pub(crate) async fn app_with_video(
    configure: impl FnOnce(&mut roomcast::config::Settings),
) -> (TestApp, String, String) {
    let app = spawn_app_with(Backend::Sqlite, configure).await;
    let token = app.signed_in_user("alice").await;
    let video = app.ready_video(&token, Fixture::LateMoov).await;
    (app, token, video["id"].as_str().unwrap().to_string())
}

#[actix_web::test]
async fn range_and_conditional_requests_follow_rfc_9110() {
    let (app, _, id) = app_with_video(|_| {}).await;
    let path = format!("/videos/{id}/stream");
    let (status, headers, full) = app.get_raw(Method::GET, &path, &[]).await;
    assert_eq!(status, 200);
    let len = full.len();
    let h = |map: &awc::http::header::HeaderMap, name: &str| {
        map.get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(h(&headers, "accept-ranges"), "bytes");
    assert_eq!(h(&headers, "content-length"), len.to_string());
    let etag = h(&headers, "etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong tag: {etag}"
    );
    let last_modified = h(&headers, "last-modified");
    assert!(last_modified.ends_with("GMT"), "{last_modified}");

    // Closed, open-ended and suffix ranges.
    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len - 1),
        ("bytes=-50", len - 50, len - 1),
        (&format!("bytes=10-{}", len + 1000) as &str, 10, len - 1),
    ] {
        let (status, headers, body) = app.get_raw(Method::GET, &path, &[("Range", range)]).await;
        assert_eq!(status, 206, "{range}");
        assert_eq!(
            h(&headers, "content-range"),
            format!("bytes {start}-{end}/{len}"),
            "{range}"
        );
        assert_eq!(body, &full[start..=end], "{range}");
    }
    // Unsatisfiable: 416 with the length.
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 5, len + 9),
        "bytes=-0".into(),
    ] {
        let (status, headers, _) = app.get_raw(Method::GET, &path, &[("Range", &range)]).await;
        assert_eq!(status, 416, "{range}");
        assert_eq!(h(&headers, "content-range"), format!("bytes */{len}"));
    }
    // Several ranges or nonsense: the whole file.
    for range in ["bytes=0-1,5-6", "bytes=9-2", "pages=1-2"] {
        let (status, _, body) = app.get_raw(Method::GET, &path, &[("Range", range)]).await;
        assert_eq!((status, body.len()), (200, len), "{range}");
    }
    // Conditional GET: 304 without a body.
    let (status, headers, body) = app
        .get_raw(Method::GET, &path, &[("If-None-Match", &etag)])
        .await;
    assert_eq!((status, body.len()), (304, 0));
    assert_eq!(h(&headers, "etag"), etag);
    let (status, _, _) = app
        .get_raw(Method::GET, &path, &[("If-Modified-Since", &last_modified)])
        .await;
    assert_eq!(status, 304);
    let (status, _, _) = app
        .get_raw(Method::GET, &path, &[("If-None-Match", "\"stale\"")])
        .await;
    assert_eq!(status, 200);
    // If-Range: the range only for the same version.
    let (status, _, body) = app
        .get_raw(
            Method::GET,
            &path,
            &[("Range", "bytes=0-9"), ("If-Range", &etag)],
        )
        .await;
    assert_eq!((status, body.len()), (206, 10));
    let (status, _, body) = app
        .get_raw(
            Method::GET,
            &path,
            &[("Range", "bytes=0-9"), ("If-Range", &last_modified)],
        )
        .await;
    assert_eq!((status, body.len()), (206, 10));
    let (status, _, body) = app
        .get_raw(
            Method::GET,
            &path,
            &[("Range", "bytes=0-9"), ("If-Range", "\"old\"")],
        )
        .await;
    assert_eq!((status, body.len()), (200, len));
    let (status, _, _) = app
        .get_raw(Method::GET, &path, &[("If-Match", "\"old\"")])
        .await;
    assert_eq!(status, 412);
    // HEAD: the headers of GET, no body; the connection stays usable.
    let (status, headers, body) = app.get_raw(Method::HEAD, &path, &[]).await;
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(h(&headers, "content-length"), len.to_string());
    let (status, headers, _) = app
        .get_raw(Method::HEAD, &path, &[("Range", "bytes=0-99")])
        .await;
    assert_eq!(status, 206);
    assert_eq!(h(&headers, "content-length"), "100");
    let (status, _, body) = app
        .get_raw(Method::GET, &path, &[("Range", "bytes=0-3")])
        .await;
    assert_eq!((status, body), (206, full[..4].to_vec()));
    // Unknown, malformed and hostile ids are 404s.
    for bad in [
        "/videos/nope/stream",
        "/videos/..%2F..%2Fetc%2Fpasswd/stream",
        "/videos/nope/thumbnail.jpg",
    ] {
        let (status, _, _) = app.get_raw(Method::GET, bad, &[]).await;
        assert_eq!(status, 404, "{bad}");
    }
}

#[actix_web::test]
async fn streams_beyond_the_limit_get_429_with_retry_after() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (app, _, id) = app_with_video(|s| s.stream.max_connections = 2).await;
    // A file large enough that a client that stops reading keeps its stream busy.
    grow_video_file(&app, &id);
    let port = app.address.rsplit(':').next().unwrap().to_string();
    let request = format!("GET /videos/{id}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        stalled.push(s);
    }
    let path = format!("/videos/{id}/stream");
    let (status, headers, body) = app
        .get_raw(Method::GET, &path, &[("Range", "bytes=0-9")])
        .await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error_code"], "023");

    // A client that goes away frees its place.
    drop(stalled.pop());
    let mut served = false;
    for _ in 0..50 {
        let (status, _, _) = app
            .get_raw(Method::GET, &path, &[("Range", "bytes=0-9")])
            .await;
        if status == 206 {
            served = true;
            break;
        }
        sleep_ms(100).await;
    }
    assert!(served, "a place was freed after a client left");
}

async fn a_text_file_named_mp4_is_refused_with_422_and_nothing_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    // Tried: plain text renamed to .mp4, and a fake MP4 header followed by garbage.
    for data in [
        &b"just some text, not a video\n"[..],
        &b"\0\0\0\x18ftypisom\0\0\0\0isomgarbage"[..],
    ] {
        let res = app
            .upload(Auth::Bearer(&token), "Fake", "evil.mp4", data)
            .await;
        assert_eq!(res.status, 422, "{:?}", res.body);
        assert_eq!(res.error_code(), "017");
        assert!(res.body["error"]
            .as_str()
            .unwrap()
            .contains("not a playable video"));
    }
    app.assert_no_files_in("tmp").await;
    app.assert_no_files_in("videos").await;
    let mine = app
        .json(Method::GET, "/api/videos", Auth::Bearer(&token), None)
        .await;
    assert_eq!(mine.body["total"], 0);
}

#[actix_web::test]
async fn an_oversized_upload_gets_413_and_leaves_nothing_behind() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.upload.max_bytes = 100_000).await;
    let token = app.signed_in_user("alice").await;
    let big = vec![7u8; 300_000];
    // Tried: a body whose Content-Length already says it is too large.
    let res = app
        .upload(Auth::Bearer(&token), "Big", "big.mp4", &big)
        .await;
    assert_eq!(res.status, 413, "{:?}", res.body);
    assert_eq!(res.error_code(), "014");
    // Tried: the same without a length (chunked), so the limit trips while streaming.
    let (content_type, body) =
        crate::media::multipart(&[("title", "Big")], Some(("big.mp4", &big)));
    let chunks: Vec<Result<actix_web::web::Bytes, std::io::Error>> = body
        .chunks(16 * 1024)
        .map(|c| Ok(actix_web::web::Bytes::copy_from_slice(c)))
        .collect();
    let mut res = app
        .client
        .post(app.url("/api/videos"))
        .insert_header(("Content-Type", content_type))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_stream(futures_util::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let err: serde_json::Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(err["error_code"], "014");
    sleep_ms(200).await;
    app.assert_no_files_in("tmp").await;
}

#[actix_web::test]
async fn uploads_need_a_session_and_multipart() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .upload(Auth::None, "Anon", "a.mp4", &bytes(Fixture::LateMoov))
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.error_code(), "002");
    let token = app.signed_in_user("alice").await;
    let res = app
        .json(
            Method::POST,
            "/api/videos",
            Auth::Bearer(&token),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(res.status, 415);
    // A form without a title, and one with an empty file.
    let (ct, body) = crate::media::multipart(&[], Some(("a.mp4", &bytes(Fixture::LateMoov))));
    let mut res = app
        .client
        .post(app.url("/api/videos"))
        .insert_header(("Content-Type", ct))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_body(body)
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let _ = res.body().await;
    let res = app
        .upload(Auth::Bearer(&token), "Empty", "a.mp4", b"")
        .await;
    assert_eq!(res.status, 400, "{:?}", res.body);
    app.assert_no_files_in("tmp").await;
}

/// ffprobe is configured at a path the test makes appear and disappear. Missing, a plain
/// upload is refused with 503 `024` (saying how to install it) as soon as its headers
/// arrive, before any of its declared 50 MB; a resumable upload whose last PATCH finds it
/// missing is kept whole, and a PATCH of no bytes completes it once ffprobe is back.
#[actix_web::test]
async fn a_missing_ffprobe_is_a_503_that_says_how_to_install_it() {
    let bin = tempfile::tempdir().unwrap();
    let ffprobe = bin.path().join("ffprobe");
    let configured = ffprobe.to_string_lossy().into_owned();
    let app = spawn_app_with(Backend::Sqlite, move |s| s.ingest.ffprobe = configured).await;
    let token = app.signed_in_user("alice").await;
    let res = app
        .upload(
            Auth::Bearer(&token),
            "Card",
            "a.mp4",
            &bytes(Fixture::LateMoov),
        )
        .await;
    assert_eq!(res.status, 503, "{:?}", res.body);
    assert_eq!(res.error_code(), "024");
    let text = res.body["error"].as_str().unwrap();
    assert!(
        text.contains("apt-get install ffmpeg") && text.contains("ROOMCAST__INGEST__FFPROBE"),
        "{text}"
    );
    app.assert_no_files_in("tmp").await;

    // Headers that announce 50 MB, and not a byte of body: answered at once.
    let port = app.address.rsplit(':').next().unwrap();
    let mut socket = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 52428800\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut socket, head.as_bytes())
        .await
        .unwrap();
    let mut answer = vec![0u8; 1024];
    let n = actix_web::rt::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut socket, &mut answer),
    )
    .await
    .expect("answered before the body")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");

    // A resumable upload: all bytes sent while ffprobe is there, the last PATCH without it.
    std::os::unix::fs::symlink(which("ffprobe"), &ffprobe).unwrap();
    let card = bytes(Fixture::LateMoov);
    let url = crate::uploads::create(&app, &token, card.len()).await;
    std::fs::remove_file(&ffprobe).unwrap();
    let patch = |offset: usize, body: Vec<u8>| {
        let (app, token, url) = (&app, &token, &url);
        async move {
            crate::uploads::tus(
                app,
                Method::PATCH,
                url,
                token,
                &[
                    (crate::uploads::TUS.0, crate::uploads::TUS.1.into()),
                    ("Upload-Offset", offset.to_string()),
                    ("Content-Type", "application/offset+octet-stream".into()),
                ],
                body,
            )
            .await
        }
    };
    let (status, _, body) = patch(0, card.clone()).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        crate::uploads::offset(&app, &token, &url).await,
        card.len() as u64,
        "the upload is kept whole"
    );
    std::os::unix::fs::symlink(which("ffprobe"), &ffprobe).unwrap();
    let (status, headers, body) = patch(card.len(), Vec::new()).await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
    let id = headers
        .get("roomcast-video-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let video = app.wait_processed(&token, &id).await;
    assert_eq!(video["status"], "ready", "{video}");
}

/// The absolute path of a command on PATH.
fn which(command: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(command))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{command} is on PATH"))
}

async fn only_the_owner_or_an_admin_deletes_and_a_deleted_video_is_gone_at_once(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.jobs.cleanup_deleted_videos_secs = 3600).await;
    let alice = app.signed_in_user("alice").await;
    let bob = app.signed_in_user("bob").await;
    let first = app.ready_video(&alice, Fixture::LateMoov).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = app.ready_video(&alice, Fixture::Faststart).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let res = app
        .json(
            Method::DELETE,
            &format!("/api/videos/{first}"),
            Auth::Bearer(&bob),
            None,
        )
        .await;
    assert_eq!((res.status.as_u16(), res.error_code()), (403, "009"));
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/videos/{first}"),
            Auth::None,
            None,
        )
        .await;
    assert_eq!(res.status, 401);

    // Stream it once so that the served-file cache knows it, then delete.
    let (status, _, _) = app
        .get_raw(
            Method::GET,
            &format!("/videos/{first}/stream"),
            &[("Range", "bytes=0-0")],
        )
        .await;
    assert_eq!(status, 206);
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/videos/{first}"),
            Auth::Bearer(&alice),
            None,
        )
        .await;
    assert_eq!(res.status, 202, "{:?}", res.body);
    assert_eq!(res.body["status"], "deleted");
    for path in [
        format!("/videos/{first}/stream"),
        format!("/videos/{first}/thumbnail.jpg"),
    ] {
        let (status, _, _) = app.get_raw(Method::GET, &path, &[]).await;
        assert_eq!(status, 404, "{path} is not served after the delete");
    }
    let res = app
        .json(
            Method::GET,
            &format!("/api/videos/{first}"),
            Auth::Bearer(&alice),
            None,
        )
        .await;
    assert_eq!(res.status, 404);
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/videos/{first}"),
            Auth::Bearer(&alice),
            None,
        )
        .await;
    assert_eq!(res.status, 404, "a second delete finds nothing");
    let page = app.page(&format!("/videos/{first}"), &[]).await;
    assert_eq!(page.status, 404);

    // The deletion is recorded; the files wait for the cleanup job.
    let pending = pending_deletions(&app);
    assert_eq!(pending, vec![first.clone()]);
    assert!(app.files_in("videos").contains(&format!("{first}.mp4")));

    // An admin may delete anyone's video.
    let admin = app.admin("root").await;
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/videos/{second}"),
            Auth::Bearer(&admin),
            None,
        )
        .await;
    assert_eq!(res.status, 202, "{:?}", res.body);

    run_job(&app, "cleanup_deleted_videos").await;
    assert!(pending_deletions(&app).is_empty());
    app.assert_no_files_in("videos").await;
    app.assert_no_files_in("thumbs").await;
    // Idempotent: running again with nothing to do succeeds.
    run_job(&app, "cleanup_deleted_videos").await;
}

fn pending_deletions(app: &TestApp) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    roomcast::db::videos::pending_deletions(&mut conn, 100)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Runs a job now and asserts it succeeded.
async fn run_job(app: &TestApp, kind: &str) {
    let job = app.run_job(kind).await;
    assert_eq!(job["state"], "done", "job {kind}: {job}");
}

async fn comments_round_trip_through_the_api_and_the_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_in_user("alice").await;
    let id = app.ready_video(&alice, Fixture::LateMoov).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/videos/{id}/comments");
    let res = app
        .json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(json!({"body": "  First!\nSecond line "})),
        )
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    assert_eq!(res.body["body"], "First!\nSecond line");
    assert_eq!(res.body["author"], "alice");
    // Tried: empty, too long, anonymous, unknown video.
    let res = app
        .json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(json!({"body": "  "})),
        )
        .await;
    assert_eq!((res.status.as_u16(), res.error_code()), (400, "016"));
    let res = app
        .json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(json!({"body": "x".repeat(2001)})),
        )
        .await;
    assert_eq!(res.status, 400);
    let res = app
        .json(Method::POST, &path, Auth::None, Some(json!({"body": "hi"})))
        .await;
    assert_eq!(res.status, 401);
    let res = app
        .json(
            Method::POST,
            "/api/videos/nope/comments",
            Auth::Bearer(&alice),
            Some(json!({"body": "hi"})),
        )
        .await;
    assert_eq!(res.status, 404);

    let list = app.json(Method::GET, &path, Auth::None, None).await;
    assert_eq!(list.body["comments"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["comments"][0]["body"], "First!\nSecond line");

    // The page's form, with its CSRF token; markup in a comment stays text.
    let bob = app.signed_in_user("bob").await;
    let watch = app
        .page(&format!("/videos/{id}"), &[("roomcast_session", &bob)])
        .await;
    let csrf = watch.csrf_token();
    let res = app
        .post_form(
            &format!("/videos/{id}/comments"),
            &[("roomcast_session", &bob)],
            &[("body", "<b>bold</b> claim"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status, 303);
    let res = app
        .post_form(
            &format!("/videos/{id}/comments"),
            &[("roomcast_session", &bob)],
            &[("body", "forged")],
        )
        .await;
    assert_eq!(res.status, 403, "a form without its CSRF token is refused");
    let watch = app.page(&format!("/videos/{id}"), &[]).await;
    assert!(
        watch.html.contains("&#60;b&#62;bold&#60;/b&#62; claim") && !watch.html.contains("<b>bold"),
        "escaped"
    );
    assert!(!watch.html.contains("forged"));
    let list = app.json(Method::GET, &path, Auth::None, None).await;
    assert_eq!(list.body["comments"][0]["author"], "bob", "newest first");
}

async fn time_anchored_danmaku_round_trip_under_the_live_rate_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signed_in_user("alice").await;
    let video = app.ready_video(&alice, Fixture::LateMoov).await;
    let id = video["id"].as_str().unwrap();
    let duration = video["duration_ms"].as_i64().unwrap();
    let path = format!("/api/videos/{id}/danmaku");
    let send =
        |ts: i64, text: &str| json!({"ts_ms": ts, "text": text, "color": "#FF0000", "mode": "top"});

    let res = app
        .json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(send(1500, " at 1.5 s ")),
        )
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    assert_eq!(res.body["ts_ms"], 1500);
    assert_eq!(res.body["text"], "at 1.5 s");
    assert_eq!(res.body["color"], "#ff0000");
    assert_eq!(res.body["mode"], "top");
    let res = app
        .json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(send(200, "early")),
        )
        .await;
    assert_eq!(res.status, 201);

    // Tried: past the end, negative, too long, control characters, bad colour, anonymous.
    for (body, code) in [
        (send(duration + 1, "late"), "016"),
        (send(-1, "before"), "016"),
        (send(10, &"x".repeat(201)), "016"),
        (send(10, "bell\u{7}"), "016"),
        (json!({"ts_ms": 10, "text": "hi", "color": "red"}), "016"),
    ] {
        let res = app
            .json(
                Method::POST,
                &path,
                Auth::Bearer(&alice),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (res.status.as_u16(), res.error_code()),
            (400, code),
            "{body}"
        );
    }
    let res = app
        .json(Method::POST, &path, Auth::None, Some(send(10, "anon")))
        .await;
    assert_eq!(res.status, 401);

    let window = app
        .json(
            Method::GET,
            &format!("{path}?from_ms=1000&to_ms=2000"),
            Auth::None,
            None,
        )
        .await;
    let items = window.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["user"], "alice");
    let all = app.json(Method::GET, &path, Auth::None, None).await;
    let order: Vec<i64> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ts_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![200, 1500], "playback order");
    let res = app
        .json(
            Method::GET,
            &format!("{path}?from_ms=5&to_ms=1"),
            Auth::None,
            None,
        )
        .await;
    assert_eq!(res.status, 400);

    // danmaku.rate is 3 per 2 s per user per video, as in live rooms: the third send in the
    // window is still fine, the fourth is limited.
    let res = app
        .json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(send(300, "third")),
        )
        .await;
    assert_eq!(res.status, 201);
    let res = app
        .json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(send(400, "fourth")),
        )
        .await;
    assert_eq!(
        (res.status.as_u16(), res.error_code()),
        (429, "018"),
        "{:?}",
        res.body
    );
    assert!(res.header("retry-after").is_some());
    assert!(res.body["retry_after_ms"].as_u64().unwrap() <= 2000);
}

#[actix_web::test]
async fn a_deletion_survives_a_server_killed_before_the_files_are_removed() {
    use crate::cli::{roomcast, serve};

    let dir = tempfile::tempdir().unwrap();
    // First life: the cleanup job would only run in an hour.
    let mut cmd = roomcast(dir.path());
    cmd.env("ROOMCAST__JOBS__CLEANUP_DELETED_VIDEOS_SECS", "3600");
    let (mut server, port) = serve(cmd);
    let app = RemoteApp::new(port);
    let token = app.sign_up("alice").await;
    let res = app.upload(&token).await;
    let id = res["id"].as_str().unwrap().to_string();
    app.wait_ready(&token, &id).await;
    let video_file = dir.path().join(format!("data/videos/{id}.mp4"));
    assert!(video_file.exists());

    let status = app.delete(&token, &id).await;
    assert_eq!(status, 202);
    // Killed between the transaction and the file removal.
    server.kill();
    assert!(video_file.exists(), "the files are still there");
    assert!(dir.path().join(format!("data/thumbs/{id}.jpg")).exists());

    // Second life: the job runs every second and finds the recorded deletion.
    let mut cmd = roomcast(dir.path());
    cmd.env("ROOMCAST__JOBS__CLEANUP_DELETED_VIDEOS_SECS", "1");
    let (_server, port) = serve(cmd);
    let app = RemoteApp::new(port);
    // The job removes the video, then the thumbnail: wait for both.
    let thumb = dir.path().join(format!("data/thumbs/{id}.jpg"));
    for _ in 0..100 {
        if !video_file.exists() && !thumb.exists() {
            break;
        }
        sleep_ms(100).await;
    }
    assert!(
        !video_file.exists(),
        "the cleanup after the restart removed the video"
    );
    assert!(!dir.path().join(format!("data/thumbs/{id}.jpg")).exists());
    assert_eq!(app.get_status(&format!("/videos/{id}/stream")).await, 404);
    let settings = roomcast::config::DatabaseSettings {
        url: roomcast::config::DatabaseUrl(format!(
            "sqlite://{}",
            dir.path().join("data/roomcast.db").display()
        )),
        pool_size: 1,
        ..Default::default()
    };
    let pool = roomcast::db::connect(&settings).unwrap();
    for _ in 0..50 {
        let left = roomcast::db::videos::pending_deletion_count(&mut pool.get().unwrap()).unwrap();
        if left == 0 {
            return;
        }
        sleep_ms(100).await;
    }
    panic!("the video_del_rec row was not removed");
}

/// A server started as a separate process, reached over HTTP.
struct RemoteApp {
    base: String,
    client: awc::Client,
}

impl RemoteApp {
    fn new(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish(),
        }
    }

    async fn sign_up(&self, name: &str) -> String {
        let body = json!({"username": name, "password": "correct horse battery"});
        let res = self
            .client
            .post(format!("{}/api/users", self.base))
            .send_json(&body)
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let mut res = self
            .client
            .post(format!("{}/api/sessions", self.base))
            .send_json(&body)
            .await
            .unwrap();
        let v: serde_json::Value = res.json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    async fn upload(&self, token: &str) -> serde_json::Value {
        let (ct, body) = crate::media::multipart(
            &[("title", "Card")],
            Some(("a.mp4", &bytes(Fixture::LateMoov))),
        );
        let mut res = self
            .client
            .post(format!("{}/api/videos", self.base))
            .insert_header(("Content-Type", ct))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send_body(body)
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    async fn wait_ready(&self, token: &str, id: &str) {
        for _ in 0..300 {
            let mut res = self
                .client
                .get(format!("{}/api/videos/{id}", self.base))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = res.json().await.unwrap();
            if v["status"] == "ready" {
                return;
            }
            sleep_ms(100).await;
        }
        panic!("not ready");
    }

    async fn delete(&self, token: &str, id: &str) -> u16 {
        let res = self
            .client
            .delete(format!("{}/api/videos/{id}", self.base))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }

    async fn get_status(&self, path: &str) -> u16 {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }
}

#[actix_web::test]
async fn the_sweep_removes_orphans_and_stale_temporary_files_but_keeps_live_ones() {
    let (app, _, id) = app_with_video(|s| s.jobs.sweep_orphan_files_secs = 3600).await;
    let storage = app.settings.storage.dir.clone();
    let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
    let age = |path: &std::path::Path| {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
    };
    let orphan = storage.join("videos/00000000-0000-0000-0000-000000000000.mp4");
    let orphan_thumb = storage.join("thumbs/00000000-0000-0000-0000-000000000000.jpg");
    let stale_tmp = storage.join("tmp/abandoned.part");
    let fresh_tmp = storage.join("tmp/in-flight.part");
    // Interrupted ten minutes ago: a body and a remux's scratch file that stopped growing.
    let idle_part = storage.join("tmp/interrupted.part");
    let idle_scratch = storage.join(format!("tmp/{id}.0a1b2c3d.faststart.mp4"));
    let expired_data = storage.join("tmp/resumable/0123456789abcdef0123456789abcdef.bin");
    let expired_info = storage.join("tmp/resumable/0123456789abcdef0123456789abcdef.json");
    for path in [
        &orphan,
        &orphan_thumb,
        &stale_tmp,
        &fresh_tmp,
        &expired_data,
        &expired_info,
        &idle_part,
        &idle_scratch,
    ] {
        std::fs::write(path, b"x").unwrap();
    }
    let ten_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(600);
    for path in [&idle_part, &idle_scratch] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(ten_minutes_ago)
            .unwrap();
    }
    for path in [
        &orphan,
        &orphan_thumb,
        &stale_tmp,
        &expired_data,
        &expired_info,
    ] {
        age(path);
    }
    // The live video's files are old too, but they belong to a row.
    let kept = storage.join(format!("videos/{id}.mp4"));
    age(&kept);
    age(&storage.join(format!("thumbs/{id}.jpg")));

    run_job(&app, "sweep_orphan_files").await;
    for gone in [
        &orphan,
        &orphan_thumb,
        &stale_tmp,
        &expired_data,
        &expired_info,
        &idle_part,
        &idle_scratch,
    ] {
        assert!(!gone.exists(), "{} was swept", gone.display());
    }
    assert!(fresh_tmp.exists(), "an upload in flight is left alone");
    assert!(kept.exists() && storage.join(format!("thumbs/{id}.jpg")).exists());
    let (status, _, _) = app
        .get_raw(
            Method::GET,
            &format!("/videos/{id}/stream"),
            &[("Range", "bytes=0-0")],
        )
        .await;
    assert_eq!(status, 206);
}

#[actix_web::test]
async fn pages_for_visitors_and_uploaders() {
    let app = spawn_app(Backend::Sqlite).await;
    let page = app.page("/videos", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("data-testid=\"videos-empty\""));
    let page = app.page("/upload", &[]).await;
    assert_eq!(page.status, 303, "visitors are sent to log in");
    let token = app.signed_in_user("alice").await;
    let page = app.page("/upload", &[("roomcast_session", &token)]).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("id=\"progress\""));
    assert!(page.html.contains("/static/upload.js"));
    // A title with markup is shown as text.
    let res = app
        .upload(
            Auth::Bearer(&token),
            "<script>alert(1)</script>",
            "a.mp4",
            &bytes(Fixture::LateMoov),
        )
        .await;
    let id = res.body["id"].as_str().unwrap().to_string();
    app.wait_processed(&token, &id).await;
    let watch = app.page(&format!("/videos/{id}"), &[]).await;
    assert!(watch
        .html
        .contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!watch.html.contains("<script>alert(1)"));
    let home = app.page("/", &[]).await;
    assert!(
        home.html.contains(&format!("/videos/{id}")),
        "the home page lists it"
    );
}

#[actix_web::test]
async fn a_video_that_cannot_be_decoded_ends_failed_with_the_reason() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.signed_in_user("alice").await;
    // Tried: a real MP4 cut short: its index (moov, at the front) describes 3 s of media
    // that is not there, so ffprobe accepts it but no frame at 1 s can be decoded.
    let whole = bytes(Fixture::Faststart);
    let res = app
        .upload(
            Auth::Bearer(&token),
            "Cut short",
            "cut.mp4",
            &whole[..10_000],
        )
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    let id = res.body["id"].as_str().unwrap().to_string();
    let video = app.wait_processed(&token, &id).await;
    assert_eq!(video["status"], "failed", "{video}");
    // A short reason for the owner; ffmpeg's own words (with server paths) stay in the log.
    let reason = video["failure_reason"].as_str().unwrap();
    assert!(reason.contains("no picture could be decoded"), "{video}");
    assert!(reason.len() < 120 && !reason.contains('/'), "{reason}");
    assert!(video.get("stream_url").is_none());
    let (status, _, _) = app
        .get_raw(Method::GET, &format!("/videos/{id}/stream"), &[])
        .await;
    assert_eq!(status, 404);
    app.assert_no_files_in("tmp").await;
    app.assert_no_files_in("videos").await;
    app.assert_no_files_in("thumbs").await;
    let page = app
        .page(&format!("/videos/{id}"), &[("roomcast_session", &token)])
        .await;
    assert!(
        page.html.contains("data-testid=\"failed\""),
        "the owner sees why"
    );
    let page = app.page(&format!("/videos/{id}"), &[]).await;
    assert_eq!(page.status, 404, "others do not see a failed video");
}

async fn the_danmaku_density_counts_messages_per_slice_of_the_video(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.danmaku.rate = "1000/1s".into()).await;
    let alice = app.signed_in_user("alice").await;
    let video = app.ready_video(&alice, Fixture::LateMoov).await;
    let id = video["id"].as_str().unwrap();
    let duration = video["duration_ms"].as_i64().unwrap();
    let path = format!("/api/videos/{id}/danmaku");
    // Three messages in the first tenth, one at the very end, one in the middle.
    for ts in [0, duration / 20, duration / 10 - 1, duration, duration / 2] {
        let body = json!({ "ts_ms": ts, "text": format!("at {ts}") });
        let res = app
            .json(Method::POST, &path, Auth::Bearer(&alice), Some(body))
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    let res = app
        .json(
            Method::GET,
            &format!("{path}/density?buckets=10"),
            Auth::None,
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["duration_ms"], duration);
    assert_eq!(res.body["buckets"], json!([3, 0, 0, 0, 0, 1, 0, 0, 0, 1]));
    assert_eq!(
        (res.body["max"].as_u64(), res.body["total"].as_u64()),
        (Some(3), Some(5))
    );
    let res = app
        .json(Method::GET, &format!("{path}/density"), Auth::None, None)
        .await;
    assert_eq!(
        res.body["buckets"].as_array().unwrap().len(),
        100,
        "100 by default"
    );
    // Tried: no slices, too many, not a number, an unknown video.
    for query in ["buckets=0", "buckets=1001", "buckets=x"] {
        let res = app
            .json(
                Method::GET,
                &format!("{path}/density?{query}"),
                Auth::None,
                None,
            )
            .await;
        assert_eq!(res.status, 400, "{query}");
    }
    let res = app
        .json(
            Method::GET,
            "/api/videos/nope/danmaku/density",
            Auth::None,
            None,
        )
        .await;
    assert_eq!(res.status, 404);
}
