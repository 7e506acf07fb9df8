//! Live sources against real peers: GStreamer's RTSP server, ffmpeg's RTMP, HTTP and SRT
//! listeners, and a source that must be transcoded. Each room must reach `running`, play
//! over the video socket, and recover the way the back-off ladder says.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use awc::http::Method;
use futures_util::StreamExt;
use serde_json::json;

use crate::helpers::{spawn_app_with, Auth, Backend, TestApp};
use crate::ingest::wait_live;

/// A peer process, killed when the test ends.
pub struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        // The whole group: a shell loop takes its ffmpeg with it.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rtsp_server(port: u16) -> Peer {
    use std::os::unix::process::CommandExt;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live/rtsp_server.py");
    let mut child = Command::new("/usr/bin/python3")
        .process_group(0)
        .arg(script)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the RTSP server started");
    Peer(child)
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// ffmpeg serving a live test picture to each client that connects to `url`: its listener
/// takes one client, so a shell loop starts a new one after each (as an encoder would).
pub fn ffmpeg_listener(url: &str, format: &str, video_codec: &str) -> Peer {
    ffmpeg_serving(video_codec, &format!("-f {format} -listen 1 '{url}'"))
}

/// ffmpeg encoding a live test picture to `output` (format options and URL), in a loop.
fn ffmpeg_serving(video_codec: &str, output: &str) -> Peer {
    use std::os::unix::process::CommandExt;

    let ffmpeg = format!(
        "ffmpeg -nostdin -v quiet -re -f lavfi -i testsrc2=size=320x240:rate=15 -f lavfi -i sine \
         -c:v {video_codec} -preset ultrafast -g 15 -pix_fmt yuv420p -c:a aac {output}"
    );
    let child = Command::new("sh")
        .args(["-c", &format!("while :; do {ffmpeg}; done")])
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("sh and ffmpeg run");
    Peer(child)
}

async fn app_and_admin() -> (TestApp, String) {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let token = app.admin("root").await;
    (app, token)
}

async fn room_with_source(app: &TestApp, token: &str, url: &str) -> String {
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(token),
            Some(json!({"title": "Cam", "source_url": url})),
        )
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

/// The first frames of the video socket: an init segment, then fragments.
async fn assert_plays(app: &TestApp, room: &str) {
    let (_res, mut socket) = app
        .client
        .ws(app.url(&format!("/ws/rooms/{room}/video")))
        .connect()
        .await
        .unwrap();
    let mut frames = Vec::new();
    while frames.len() < 3 {
        let next = actix_web::rt::time::timeout(Duration::from_secs(20), socket.next()).await;
        match next.expect("a frame within 20 s").unwrap().unwrap() {
            awc::ws::Frame::Binary(b) => frames.push(b),
            awc::ws::Frame::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(&frames[0][4..8], b"ftyp");
    assert_eq!(&frames[1][4..8], b"moof");
}

#[actix_web::test]
async fn an_rtsp_camera_plays_and_comes_back_after_the_server_restarts() {
    let (app, token) = app_and_admin().await;
    let port = free_port();
    let server = rtsp_server(port);
    let room = room_with_source(&app, &token, &format!("rtsp://127.0.0.1:{port}/test")).await;
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert!(
        !live["transcoding"].as_bool().unwrap(),
        "H.264 from the camera is copied"
    );
    assert_plays(&app, &room).await;

    // The camera goes away: the pipeline backs off and counts the failure.
    drop(server);
    let down = wait_live(&app, &room, "backoff").await["live"].clone();
    assert!(down["restarts"].as_u64().unwrap() >= 1, "{down}");
    assert!(down["last_error"].is_string(), "{down}");
    // It comes back: so does the room.
    let _server = rtsp_server(port);
    wait_live(&app, &room, "running").await;
    assert_plays(&app, &room).await;
}

#[actix_web::test]
async fn an_rtmp_stream_from_ffmpegs_listener_plays() {
    let (app, token) = app_and_admin().await;
    let url = format!("rtmp://127.0.0.1:{}/live/stream", free_port());
    let _peer = ffmpeg_listener(&url, "flv", "libx264");
    let room = room_with_source(&app, &token, &url).await;
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert!(!live["transcoding"].as_bool().unwrap(), "{live}");
    assert_plays(&app, &room).await;
    // ffmpeg cannot tell the rate of what it writes to a pipe; the pipeline measures it.
    crate::helpers::eventually(
        Duration::from_secs(10),
        "live.bitrate_kbps shows the stream's rate",
        || async {
            live_of(&app, &room).await["bitrate_kbps"]
                .as_f64()
                .unwrap_or(0.0)
                > 50.0
        },
    )
    .await;
}

#[actix_web::test]
async fn mpeg_ts_over_http_plays_and_a_non_h264_source_is_transcoded() {
    let (app, token) = app_and_admin().await;
    let url = format!("http://127.0.0.1:{}/live.ts", free_port());
    let _peer = ffmpeg_listener(&url, "mpegts", "mpeg2video");
    let room = room_with_source(&app, &token, &url).await;
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert!(
        live["transcoding"].as_bool().unwrap(),
        "MPEG-2 video is transcoded: {live}"
    );
    assert_plays(&app, &room).await;
}

#[actix_web::test]
async fn an_srt_stream_from_an_encoder_in_listener_mode_plays() {
    let (app, token) = app_and_admin().await;
    let port = free_udp_port();
    // The encoder listens (as hardware encoders and OBS do); Roomcast calls it.
    let _peer = ffmpeg_serving(
        "libx264",
        &format!("-f mpegts 'srt://127.0.0.1:{port}?mode=listener'"),
    );
    let room = room_with_source(&app, &token, &format!("srt://127.0.0.1:{port}?mode=caller")).await;
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert!(!live["transcoding"].as_bool().unwrap(), "{live}");
    assert_plays(&app, &room).await;
}

/// The room's `live` object as the API shows it.
async fn live_of(app: &TestApp, room: &str) -> serde_json::Value {
    let path = format!("/api/rooms/{room}");
    app.json(Method::GET, &path, Auth::None, None).await.body["live"].clone()
}

#[actix_web::test]
async fn a_source_down_for_many_retries_plays_again_within_the_retry_cap_of_its_return() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.ingest.max_backoff_secs = 2).await;
    let token = app.admin("root").await;
    // Tried: a camera that is down for many restarts in a row (nothing listens yet).
    let url = format!("rtmp://127.0.0.1:{}/live/cam", free_port());
    let room = room_with_source(&app, &token, &url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let live = live_of(&app, &room).await;
        if live["restarts"].as_u64().unwrap_or(0) >= 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the source kept failing: {live}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    // The camera comes back: the waits never grew past the cap, so video is back within it
    // (plus the time to connect), not a minute later.
    let _camera = ffmpeg_listener(&url, "flv", "libx264");
    let back = std::time::Instant::now();
    loop {
        let live = live_of(&app, &room).await;
        if live["state"] == "running" {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(12),
            "still not playing {:?} after the camera came back: {live}",
            back.elapsed()
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("playing {:?} after the camera came back", back.elapsed());
}
