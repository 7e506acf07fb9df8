//! Going live from an encoder: ffmpeg publishes FLV over RTMP exactly as OBS does
//! (`-f flv rtmp://HOST:PORT/live/KEY`) to the server's own listener. A room's owner reads
//! its key; the room plays over the video socket; wrong keys, wrong applications, a second
//! publisher and garbage on the port are refused and counted; a new key cuts the old
//! publisher off.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use awc::http::Method;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{eventually, spawn_app_with, Auth, Backend, TestApp};
use crate::ingest::wait_live;
use crate::live_sources::free_port;

/// An ffmpeg publisher pushing a live test picture to `url`, killed when dropped.
pub(crate) struct Publisher(Child);

impl Publisher {
    pub(crate) fn start(url: &str, video_codec: &str) -> Self {
        let child = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-re", "-f", "lavfi"])
            .args([
                "-i",
                "testsrc2=size=320x240:rate=25",
                "-f",
                "lavfi",
                "-i",
                "sine",
            ])
            .args(["-c:v", video_codec, "-g", "25", "-pix_fmt", "yuv420p"])
            .args(["-c:a", "aac", "-f", "flv", url])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg runs (apt-get install ffmpeg)");
        Self(child)
    }

    /// Whether ffmpeg has ended (the server refused or dropped it).
    pub(crate) fn ended(&mut self) -> bool {
        self.0.try_wait().unwrap().is_some()
    }
}

impl Publisher {
    /// GStreamer's `rtmp2sink` pushing OpenH264 video and AAC audio to `url`.
    fn gstreamer(url: &str) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live/rtmp_publisher.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs (apt-get install python3-gi gstreamer1.0-plugins-bad)");
        Self(child)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn app_with_rtmp() -> (TestApp, u16) {
    let port = free_port();
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.ingest.rtmp_addr = format!("127.0.0.1:{port}");
    })
    .await;
    (app, port)
}

pub(crate) type VideoSocket = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// The room's video socket.
pub(crate) async fn video_socket(app: &TestApp, room: &str) -> VideoSocket {
    let (_res, socket) = app
        .client
        .ws(app.url(&format!("/ws/rooms/{room}/video")))
        .connect()
        .await
        .unwrap();
    socket
}

/// The next `n` binary frames, each within 20 s (pings skipped).
pub(crate) async fn binary_frames(socket: &mut VideoSocket, n: usize) -> Vec<bytes::Bytes> {
    let mut frames = Vec::new();
    while frames.len() < n {
        let frame = actix_web::rt::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("video arrives within 20 s")
            .unwrap()
            .unwrap();
        if let awc::ws::Frame::Binary(b) = frame {
            frames.push(b);
        }
    }
    frames
}

async fn key_of(app: &TestApp, token: &str, room: &str) -> Value {
    let res = app
        .json(
            Method::GET,
            &format!("/api/rooms/{room}/stream-key"),
            Auth::Bearer(token),
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

pub(crate) fn refused(metrics: &str, reason: &str) -> u64 {
    let needle = format!("roomcast_ingest_publish_refused_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn refused_now(app: &TestApp, reason: &str) -> u64 {
    refused(&app.page("/metrics", &[]).await.html, reason)
}

#[actix_web::test]
async fn a_publisher_with_the_rooms_key_goes_live_and_viewers_see_it() {
    let (app, port) = app_with_rtmp().await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Alice live").await;

    // The owner reads the key; others may not.
    let key = key_of(&app, &alice, &room).await;
    assert_eq!(key["server"], format!("rtmp://127.0.0.1:{port}/live"));
    let url = key["url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!(
            "{}/{}",
            key["server"].as_str().unwrap(),
            key["key"].as_str().unwrap()
        )
    );
    assert_eq!(
        key_of(&app, &alice, &room).await["key"],
        key["key"],
        "the key is kept"
    );
    let bob = app.signed_in_user("bob").await;
    let path = format!("/api/rooms/{room}/stream-key");
    let res = app.json(Method::GET, &path, Auth::Bearer(&bob), None).await;
    assert_eq!(res.status, 403, "another user");
    let res = app.json(Method::GET, &path, Auth::None, None).await;
    assert_eq!(res.status, 401, "a visitor");
    let res = app
        .json(Method::POST, &path, Auth::Bearer(&bob), None)
        .await;
    assert_eq!(res.status, 403, "another user cannot replace it");

    // A viewer waits before anyone publishes.
    wait_live(&app, &room, "waiting").await;
    let mut socket = video_socket(&app, &room).await;

    let _publisher = Publisher::start(&url, "libx264");
    let frames = binary_frames(&mut socket, 3).await;
    assert_eq!(&frames[0][4..8], b"ftyp", "the init segment first");
    assert!(frames[1..].iter().all(|f| &f[4..8] == b"moof"));
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert_eq!(live["transcoding"], false, "H.264/AAC is copied: {live}");
    assert!(
        live.get("publisher").is_none(),
        "visitors do not see who publishes"
    );
    // Its HLS is the same stream: ffprobe reads H.264 and AAC from the playlist.
    let playlist = app.url(&format!("/hls/{room}/index.m3u8"));
    eventually(
        Duration::from_secs(15),
        "the playlist is written",
        || async {
            app.page(&format!("/hls/{room}/index.m3u8"), &[])
                .await
                .html
                .contains("#EXTINF")
        },
    )
    .await;
    let probed = actix_web::rt::task::spawn_blocking(move || {
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
            ])
            .arg(&playlist)
            .output()
            .expect("ffprobe runs")
    })
    .await
    .unwrap();
    let codecs = String::from_utf8_lossy(&probed.stdout).to_string();
    assert!(
        probed.status.success(),
        "{}",
        String::from_utf8_lossy(&probed.stderr)
    );
    // Each stream is listed once as itself and once in the playlist's program.
    let mut codecs: Vec<&str> = codecs.split_whitespace().collect();
    codecs.sort();
    codecs.dedup();
    assert_eq!(codecs, ["aac", "h264"], "the HLS streams");

    // The room list and the home page mark it live.
    for page in ["/live", "/"] {
        let html = app.page(page, &[]).await.html;
        assert!(
            html.contains("data-testid=\"live-badge\""),
            "{page} shows the room as live"
        );
    }

    // The owner sees the publisher, kept current.
    let room_path = format!("/api/rooms/{room}");
    eventually(
        Duration::from_secs(10),
        "the publisher's rate is measured",
        || async {
            let res = app
                .json(Method::GET, &room_path, Auth::Bearer(&alice), None)
                .await;
            res.body["live"]["publisher"]["kbps"]
                .as_f64()
                .is_some_and(|k| k > 0.0)
        },
    )
    .await;
    let res = app
        .json(Method::GET, &room_path, Auth::Bearer(&alice), None)
        .await;
    let publisher = &res.body["live"]["publisher"];
    assert!(
        publisher["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{publisher}"
    );
    assert!(publisher["since"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(publisher["video"]["codec"], "h264");
    assert_eq!(publisher["video"]["width"], 320);
    assert_eq!(publisher["video"]["height"], 240);
    assert_eq!(publisher["video"]["fps"], 25.0);
    assert_eq!(publisher["audio"]["codec"], "aac");
}

#[actix_web::test]
async fn the_owner_kicks_the_publisher_and_others_may_not() {
    let (app, _port) = app_with_rtmp().await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Kickable").await;
    let url = key_of(&app, &alice, &room).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    let mut publisher = Publisher::start(&url, "libx264");
    wait_live(&app, &room, "running").await;
    let path = format!("/api/rooms/{room}/ingest/kick");
    let bob = app.signed_in_user("bob").await;
    let res = app
        .json(Method::POST, &path, Auth::Bearer(&bob), None)
        .await;
    assert_eq!(res.status, 403, "another user");
    let res = app.json(Method::POST, &path, Auth::None, None).await;
    assert_eq!(res.status, 401, "a visitor");
    assert!(!publisher.ended());
    let res = app
        .json(Method::POST, &path, Auth::Bearer(&alice), None)
        .await;
    assert_eq!(res.status, 202, "{}", res.body);
    eventually(
        Duration::from_secs(20),
        "the publisher is disconnected",
        || std::future::ready(publisher.ended()),
    )
    .await;
    wait_live(&app, &room, "waiting").await;
}

#[actix_web::test]
async fn a_publisher_leaving_puts_the_room_back_to_waiting_and_can_come_back() {
    let (app, _port) = app_with_rtmp().await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Comes and goes").await;
    let url = key_of(&app, &alice, &room).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    let publisher = Publisher::start(&url, "libx264");
    wait_live(&app, &room, "running").await;
    drop(publisher);
    let live = wait_live(&app, &room, "waiting").await["live"].clone();
    assert_eq!(live["restarts"], 0, "leaving is no failure: {live}");
    // A viewer joining the waiting room is not given the last run's pictures: what it gets
    // first is the next run's init segment and that run's first fragment.
    let mut socket = video_socket(&app, &room).await;
    let _again = Publisher::start(&url, "libx264");
    let frames = binary_frames(&mut socket, 2).await;
    assert_eq!(&frames[0][4..8], b"ftyp");
    assert_eq!(&frames[1][4..8], b"moof");
    assert_eq!(&frames[1][12..16], b"mfhd");
    let sequence = u32::from_be_bytes(frames[1][20..24].try_into().unwrap());
    assert_eq!(sequence, 1, "the new run's first fragment, not an old one");
    wait_live(&app, &room, "running").await;
}

#[actix_web::test]
async fn wrong_keys_applications_and_a_second_publisher_are_refused_and_counted() {
    let (app, port) = app_with_rtmp().await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Guarded").await;
    let key = key_of(&app, &alice, &room).await;
    let good = key["key"].as_str().unwrap().to_string();

    // Tried: a made-up key, the room's id with a wrong secret, the right key under another
    // application name.
    let attempts = [
        (format!("rtmp://127.0.0.1:{port}/live/guess"), "wrong_key"),
        (
            format!("rtmp://127.0.0.1:{port}/live/{room}_{}", "A".repeat(32)),
            "wrong_key",
        ),
        (format!("rtmp://127.0.0.1:{port}/other/{good}"), "wrong_app"),
    ];
    for (url, reason) in attempts {
        let before = refused_now(&app, reason).await;
        let mut publisher = Publisher::start(&url, "libx264");
        eventually(Duration::from_secs(20), "ffmpeg is turned away", || {
            std::future::ready(publisher.ended())
        })
        .await;
        assert_eq!(refused_now(&app, reason).await, before + 1, "{reason}");
    }
    let log_safe = app.page("/metrics", &[]).await.html;
    assert!(!log_safe.contains(&good), "no key in the metrics");

    // A second publisher while the first is live.
    let url = key["url"].as_str().unwrap().to_string();
    let mut first = Publisher::start(&url, "libx264");
    wait_live(&app, &room, "running").await;
    let before = refused_now(&app, "busy").await;
    let mut second = Publisher::start(&url, "libx264");
    eventually(
        Duration::from_secs(20),
        "the second publisher is turned away",
        || std::future::ready(second.ended()),
    )
    .await;
    assert_eq!(refused_now(&app, "busy").await, before + 1);
    assert!(!first.ended(), "the first keeps streaming");
    wait_live(&app, &room, "running").await;

    // A new key cuts the first publisher off, and the old key no longer works.
    let res = app
        .json(
            Method::POST,
            &format!("/api/rooms/{room}/stream-key"),
            Auth::Bearer(&alice),
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_ne!(res.body["key"], key["key"]);
    eventually(
        Duration::from_secs(20),
        "the old publisher is cut off",
        || std::future::ready(first.ended()),
    )
    .await;
    let before = refused_now(&app, "wrong_key").await;
    let mut stale = Publisher::start(&url, "libx264");
    eventually(Duration::from_secs(20), "the old key is refused", || {
        std::future::ready(stale.ended())
    })
    .await;
    assert_eq!(refused_now(&app, "wrong_key").await, before + 1);
}

#[actix_web::test]
async fn garbage_on_the_rtmp_port_closes_that_connection_only() {
    let (app, port) = app_with_rtmp().await;
    let before = refused_now(&app, "malformed").await;
    // Tried: an HTTP request and random bytes where an RTMP handshake belongs.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tcp.write_all(&[0xff; 4096]).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let closed = actix_web::rt::time::timeout(Duration::from_secs(15), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closed the connection");
    eventually(Duration::from_secs(5), "the refusal is counted", || async {
        refused_now(&app, "malformed").await > before
    })
    .await;
    // The listener still takes publishers.
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "After the garbage").await;
    let url = key_of(&app, &alice, &room).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    let _publisher = Publisher::start(&url, "libx264");
    wait_live(&app, &room, "running").await;
}

#[actix_web::test]
async fn gstreamers_rtmp2sink_publishes_too() {
    let (app, _port) = app_with_rtmp().await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "GStreamer").await;
    let url = key_of(&app, &alice, &room).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    let _publisher = Publisher::gstreamer(&url);
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert_eq!(live["transcoding"], false, "H.264/AAC is copied: {live}");
    let mut socket = video_socket(&app, &room).await;
    let kinds: Vec<Vec<u8>> = binary_frames(&mut socket, 3)
        .await
        .iter()
        .map(|b| b[4..8].to_vec())
        .collect();
    assert_eq!(kinds[0], b"ftyp");
    assert!(kinds[1..].iter().all(|k| k == b"moof"));
}

#[actix_web::test]
async fn a_publisher_in_another_codec_is_transcoded_to_h264() {
    let (app, _port) = app_with_rtmp().await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Old encoder").await;
    let url = key_of(&app, &alice, &room).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    // Sorenson H.263 (FLV's own video codec), as old encoders send.
    let _publisher = Publisher::start(&url, "flv");
    let live = wait_live(&app, &room, "running").await["live"].clone();
    assert_eq!(live["transcoding"], true, "{live}");
    let mut socket = video_socket(&app, &room).await;
    let init = binary_frames(&mut socket, 1).await.remove(0);
    assert_eq!(&init[4..8], b"ftyp");
    assert!(init.windows(4).any(|w| w == b"avc1"), "the output is H.264");
}

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`.
fn self_signed(dir: &std::path::Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert.display().to_string(), key.display().to_string())
}

#[actix_web::test]
async fn a_publisher_goes_live_over_rtmps() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let (plain, tls) = (free_port(), free_port());
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.ingest.rtmp_addr = format!("127.0.0.1:{plain}");
        s.ingest.rtmps_addr = format!("127.0.0.1:{tls}");
        s.ingest.rtmps_cert = cert;
        s.ingest.rtmps_key = key;
    })
    .await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Over TLS").await;
    let stream_key = key_of(&app, &alice, &room).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let _publisher = Publisher::start(
        &format!("rtmps://127.0.0.1:{tls}/live/{stream_key}"),
        "libx264",
    );
    wait_live(&app, &room, "running").await;

    // Tried: plain RTMP on the RTMPS port.
    let before = refused_now(&app, "malformed").await;
    let mut wrong = Publisher::start(
        &format!("rtmp://127.0.0.1:{tls}/live/{stream_key}"),
        "libx264",
    );
    eventually(Duration::from_secs(20), "plain RTMP is turned away", || {
        std::future::ready(wrong.ended())
    })
    .await;
    assert!(refused_now(&app, "malformed").await > before);
}

#[actix_web::test]
async fn a_publisher_that_goes_silent_is_dropped() {
    let port = free_port();
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.ingest.rtmp_addr = format!("127.0.0.1:{port}");
        s.ingest.publisher_idle_ms = 1500;
    })
    .await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Frozen encoder").await;
    let url = key_of(&app, &alice, &room).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    let publisher = Publisher::start(&url, "libx264");
    wait_live(&app, &room, "running").await;
    // Tried: an encoder that freezes with its connection open (stopped, not killed).
    let pid = publisher.0.id() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let live = wait_live(&app, &room, "waiting").await["live"].clone();
    assert_eq!(live["restarts"], 0, "{live}");
    unsafe { libc::kill(pid, libc::SIGCONT) };
}
