//! Live sources: what an admin may set as a room's source, and what is refused.

use awc::http::Method;
use serde_json::json;

use std::time::Duration;

use crate::helpers::{eventually, spawn_app, Auth, Backend, TestApp};

crate::on_both_backends!(hostile_source_urls_are_refused_and_good_ones_kept_without_credentials);

async fn hostile_source_urls_are_refused_and_good_ones_kept_without_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = app.admin("root").await;
    let user = app.signed_in_user("alice").await;
    // Tried: every ffmpeg protocol trick we know of, local files, nested URLs, other schemes.
    for bad in [
        "concat:http://a/1.ts|http://a/2.ts",
        "subfile,,start,0,end,100,,:/etc/passwd",
        "pipe:0",
        "data:video/mp4;base64,AAAA",
        "file:/etc/passwd",
        "/etc/passwd",
        "tcp://127.0.0.1:1234",
        "hls+http://h/x.m3u8",
        "http://h/x?u=file:///etc/passwd",
        "rtsp://h/a|file:/etc/passwd",
        "rtsp://",
        "gopher://h/",
    ] {
        let res = app
            .json(
                Method::POST,
                "/api/rooms",
                Auth::Bearer(&root),
                Some(json!({"title": "Cam", "source_url": bad})),
            )
            .await;
        assert_eq!(
            (res.status.as_u16(), res.error_code()),
            (400, "016"),
            "{bad}"
        );
    }
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&user),
            Some(json!({"title": "Cam", "source_url": "rtsp://cam/x"})),
        )
        .await;
    assert_eq!(res.status, 403, "only admins give rooms sources");

    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&root),
            Some(
                json!({"title": "Gate", "source_url": "rtsp://admin:hunter2@127.0.0.1:8554/gate"}),
            ),
        )
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    let id = res.body["id"].as_str().unwrap().to_string();
    assert!(res.body["has_source"].as_bool().unwrap());
    assert!(!res.body.to_string().contains("hunter2"), "{}", res.body);

    // PATCH: admins only; the same rules; null removes the source.
    let path = format!("/api/rooms/{id}");
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&user),
            Some(json!({"on_demand": true})),
        )
        .await;
    assert_eq!(res.status, 403);
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&root),
            Some(json!({"source_url": "pipe:1"})),
        )
        .await;
    assert_eq!(res.status, 400);
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&root),
            Some(json!({"title": "Gate 2", "on_demand": true})),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(
        (res.body["title"].as_str(), res.body["on_demand"].as_bool()),
        (Some("Gate 2"), Some(true))
    );
    assert!(
        res.body["has_source"].as_bool().unwrap(),
        "an absent field is left alone"
    );
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&root),
            Some(json!({"source_url": null})),
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(!res.body["has_source"].as_bool().unwrap());
    let res = app
        .json(
            Method::PATCH,
            "/api/rooms/nope",
            Auth::Bearer(&root),
            Some(json!({"on_demand": true})),
        )
        .await;
    assert_eq!(res.status, 404);
}

/// Polls the room until `live.state` is `state`; returns the room JSON.
pub async fn wait_live(app: &TestApp, room: &str, state: &str) -> serde_json::Value {
    for _ in 0..300 {
        let res = app
            .json(Method::GET, &format!("/api/rooms/{room}"), Auth::None, None)
            .await;
        if res.body["live"]["state"] == state {
            return res.body;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let res = app
        .json(Method::GET, &format!("/api/rooms/{room}"), Auth::None, None)
        .await;
    panic!("room {room} never reached {state}: {}", res.body);
}

/// An app with `file:` sources allowed, an admin, and a room live from the test card.
async fn app_with_live_room() -> (TestApp, String, String) {
    let app =
        crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.ingest.allow_files = true).await;
    let root = app.admin("root").await;
    let src = crate::media::fixture(crate::media::Fixture::LiveTs);
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&root),
            Some(json!({"title": "Test card", "source_url": format!("file:{}", src.display())})),
        )
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    let room = res.body["id"].as_str().unwrap().to_string();
    wait_live(&app, &room, "running").await;
    (app, root, room)
}

#[actix_web::test]
async fn a_room_with_a_source_serves_websocket_fmp4_and_hls() {
    use futures_util::StreamExt;

    let (app, _root, room) = app_with_live_room().await;
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert_eq!(live["hls_url"], format!("/hls/{room}/index.m3u8"));
    assert_eq!(live["ws_video_url"], format!("/ws/rooms/{room}/video"));
    assert!(!live["transcoding"].as_bool().unwrap());

    // WebSocket: the init segment, then fragments; the first fragment starts on a keyframe.
    let (_res, mut socket) = app
        .client
        .ws(app.url(&format!("/ws/rooms/{room}/video")))
        .connect()
        .await
        .unwrap();
    let mut frames = Vec::new();
    while frames.len() < 4 {
        match socket.next().await.unwrap().unwrap() {
            awc::ws::Frame::Binary(b) => frames.push(b),
            awc::ws::Frame::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(&frames[0][4..8], b"ftyp");
    for f in &frames[1..] {
        assert_eq!(&f[4..8], b"moof");
    }

    // HLS: a playlist that is never cached (written once the first 1 s segment is done),
    // and segments with their own type.
    let playlist_path = format!("/hls/{room}/index.m3u8");
    assert!(
        poll_status(&app, &playlist_path, 200).await,
        "the playlist is written"
    );
    let (status, headers, body) = app.get_raw(Method::GET, &playlist_path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/vnd.apple.mpegurl"
    );
    assert!(headers
        .get("cache-control")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("no-cache"));
    let playlist = String::from_utf8(body).unwrap();
    let segment = playlist
        .lines()
        .find(|l| l.ends_with(".ts"))
        .expect("a segment")
        .to_string();
    let (status, headers, _) = app
        .get_raw(Method::GET, &format!("/hls/{room}/{segment}"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "video/mp2t");
    // Tried: a path out of the room's folder, a temporary file, another extension.
    for bad in ["..%2F..%2Froomcast.db", "index.m3u8.tmp", "seg1.mp4"] {
        let (status, _, _) = app
            .get_raw(Method::GET, &format!("/hls/{room}/{bad}"), &[])
            .await;
        assert_eq!(status, 404, "{bad}");
    }
}

#[actix_web::test]
async fn a_viewer_joining_a_stopped_source_gets_the_next_runs_pictures_not_the_last_ones() {
    use crate::push::{binary_frames, video_socket};

    let (app, root, room) = app_with_live_room().await;
    // The source has run: this node holds its latest pictures for joiners.
    let mut early = video_socket(&app, &room).await;
    binary_frames(&mut early, 2).await;
    let control = |action: &str| format!("/api/admin/rooms/{room}/ingest/{action}");
    let res = app
        .json(Method::POST, &control("stop"), Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.status, 202);
    wait_live(&app, &room, "stopped").await;
    // Joining the stopped room, then started again: the first pictures are the new run's
    // init segment and first fragment, not the stopped run's last ones.
    let mut socket = video_socket(&app, &room).await;
    let res = app
        .json(Method::POST, &control("start"), Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.status, 202);
    let frames = binary_frames(&mut socket, 2).await;
    assert_eq!(&frames[0][4..8], b"ftyp");
    assert_eq!(&frames[1][4..8], b"moof");
    assert_eq!(&frames[1][12..16], b"mfhd");
    let sequence = u32::from_be_bytes(frames[1][20..24].try_into().unwrap());
    assert_eq!(sequence, 1, "the new run's first fragment, not an old one");
}

#[actix_web::test]
async fn admins_stop_and_start_a_source_and_the_stop_outlives_a_restart() {
    let (mut app, root, room) = app_with_live_room().await;
    let user = app.signed_in_user("alice").await;
    let playlist_path = format!("/hls/{room}/index.m3u8");
    assert!(
        poll_status(&app, &playlist_path, 200).await,
        "the playlist is written"
    );

    // Tried: a user who is not an admin stops it (403); an action that does not exist (404).
    let path = format!("/api/admin/rooms/{room}/ingest/stop");
    let res = app
        .json(Method::POST, &path, Auth::Bearer(&user), None)
        .await;
    assert_eq!(res.status, 403);
    let res = app
        .json(
            Method::POST,
            &format!("/api/admin/rooms/{room}/ingest/explode"),
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(res.status, 404);
    let res = app
        .json(Method::POST, &path, Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.status, 202);
    wait_live(&app, &room, "stopped").await;
    // The stopped source's playlist stops changing; after 6 s it answers 404, so players show
    // their offline state instead of replaying the last segments.
    assert!(
        poll_status(&app, &playlist_path, 404).await,
        "the stale playlist is gone"
    );
    // The stop is stored with the room: a restarted server keeps the source stopped until an
    // admin starts it. A pipeline decides whether to run as it starts, before it answers
    // anything: once the room reports a pipeline's own status (it names its node), that
    // decision is in.
    app.restart().await;
    let room_path = format!("/api/rooms/{room}");
    eventually(
        Duration::from_secs(10),
        "the restarted node runs a pipeline for the room",
        || async {
            let res = app
                .json(Method::GET, &room_path, Auth::Bearer(&root), None)
                .await;
            res.body["live"]["node"].is_string()
        },
    )
    .await;
    let res = app.json(Method::GET, &room_path, Auth::None, None).await;
    assert_eq!(
        res.body["live"]["state"], "stopped",
        "the stop outlived the restart: {}",
        res.body
    );
    let res = app
        .json(
            Method::POST,
            &format!("/api/admin/rooms/{room}/ingest/start"),
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(res.status, 202);
    wait_live(&app, &room, "running").await;
    assert!(
        poll_status(&app, &playlist_path, 200).await,
        "the playlist is back once the source runs"
    );
}

/// Polls `path` for up to 15 s until it answers `want`.
async fn poll_status(app: &crate::helpers::TestApp, path: &str, want: u16) -> bool {
    for _ in 0..150 {
        if app.get_raw(Method::GET, path, &[]).await.0 == want {
            return true;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[actix_web::test]
async fn no_ffmpeg_survives_a_server_killed_with_sigkill() {
    use crate::cli::{roomcast, serve};

    let dir = tempfile::tempdir().unwrap();
    let src = crate::media::fixture(crate::media::Fixture::LiveTs);
    let mut cmd = roomcast(dir.path());
    cmd.env("ROOMCAST__INGEST__ALLOW_FILES", "true");
    let (mut server, port) = serve(cmd);
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::default();
    let body = json!({"username": "root", "password": "correct horse battery"});
    client
        .post(format!("{base}/api/users"))
        .send_json(&body)
        .await
        .unwrap();
    let mut conn = roomcast::db::connect(&roomcast::config::DatabaseSettings {
        url: roomcast::config::DatabaseUrl(format!(
            "sqlite://{}",
            dir.path().join("data/roomcast.db").display()
        )),
        pool_size: 1,
        ..Default::default()
    })
    .unwrap()
    .get()
    .unwrap();
    roomcast::db::users::set_role(&mut conn, "root", "admin").unwrap();
    let mut res = client
        .post(format!("{base}/api/sessions"))
        .send_json(&body)
        .await
        .unwrap();
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let room = json!({"title": "Cam", "source_url": format!("file:{}", src.display())});
    let mut res = client
        .post(format!("{base}/api/rooms"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&room)
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut children = Vec::new();
    for _ in 0..100 {
        children = ffmpeg_children(server.pid());
        let mut res = client
            .get(format!("{base}/api/rooms/{id}"))
            .send()
            .await
            .unwrap();
        let state = res.json::<serde_json::Value>().await.unwrap()["live"]["state"].clone();
        if state == "running" && !children.is_empty() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!children.is_empty(), "the server runs an ffmpeg");
    // Its address space is capped (a hostile stream cannot take the machine's memory).
    for pid in &children {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max address space"))
            .unwrap();
        let soft: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(soft[3], (2u64 << 30).to_string(), "{line}");
    }
    server.kill();
    for _ in 0..50 {
        if children
            .iter()
            .all(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("ffmpeg outlived the server: {children:?}");
}

/// Processes whose parent is `pid` and whose command is ffmpeg.
fn ffmpeg_children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == pid && name.ends_with("(ffmpeg") {
            found.push(child);
        }
    }
    found
}
