//! Faults injected into the real server's surroundings: a database file made immutable, a
//! database held locked by another connection. Each test says what was done and asserts
//! that nothing accepted was lost and that the server told clients to retry meanwhile.

use std::process::Command;
use std::time::{Duration, Instant};

use awc::http::Method;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::json;

use crate::helpers::{eventually, spawn_app_with, Auth, Backend, TestApp, WsClient};
use crate::on_both_backends;

on_both_backends!(danmaku_sent_while_the_database_is_locked_are_all_stored_afterwards,);

/// The database was out of reach: 503 with code `029` and `Retry-After`.
fn assert_told_to_retry(res: &crate::helpers::JsonResponse, what: &str) {
    assert_eq!(res.status, 503, "{what}: {}", res.body);
    assert_eq!(res.error_code(), "029", "{what}");
    assert!(res.header("retry-after").is_some(), "{what}: Retry-After");
}

/// The `/readyz` status code.
async fn ready(app: &TestApp) -> u16 {
    app.client
        .get(app.url("/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// The stored danmaku of a room, as the history API returns them.
async fn stored_texts(app: &TestApp, room: &str) -> Vec<String> {
    let res = app
        .json(
            Method::GET,
            &format!("/api/rooms/{room}/danmaku?limit=500"),
            Auth::None,
            None,
        )
        .await;
    res.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["text"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Sends `texts` from a signed-in viewer and waits until each came back in a batch (the
/// room accepted it and every viewer saw it).
async fn send_and_see(viewer: &mut WsClient, texts: &[String]) {
    for text in texts {
        viewer
            .send_json(json!({"type": "send", "text": text, "mode": "scroll"}))
            .await;
    }
    let mut seen = 0;
    while seen < texts.len() {
        let frame = viewer.next_of_type("batch").await;
        seen += frame["items"].as_array().unwrap().len();
    }
}

/// An SQLite file that could not be written for a while (made immutable with `chattr +i`,
/// which holds even for root) while requests kept arriving: connections the pool opened
/// meanwhile must not come up read-only and stay, `/readyz` must see the fault, and once
/// the file is writable again every write succeeds and every danmaku accepted during the
/// fault is stored.
#[actix_web::test]
async fn a_briefly_read_only_sqlite_file_loses_nothing_once_writable_again() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.database.timeout_secs = 1;
        s.database.pool_size = 6;
        s.danmaku.rate = "1000/1s".into();
    })
    .await;
    let token = app.signed_in_user("writer").await;
    let room = app.create_room(&token, "fault room").await;
    let (mut viewer, _) = app.viewer(&room, Some(&token)).await;
    let file = app.dir.path().join("roomcast.db");
    let immutable = Immutable::set(&file);

    eventually(
        Duration::from_secs(10),
        "/readyz reports the database it cannot write",
        || async { ready(&app).await == 503 },
    )
    .await;
    // Requests in parallel make the pool open connections while the file is immutable.
    let during: Vec<String> = (0..20).map(|i| format!("during fault {i}")).collect();
    let writes = (0..12).map(|i| {
        app.json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({ "title": format!("during {i}") })),
        )
    });
    let (statuses, ()) = futures_util::join!(
        futures_util::future::join_all(writes),
        send_and_see(&mut viewer, &during)
    );
    for res in &statuses {
        assert!(
            matches!(res.status.as_u16(), 201 | 503),
            "a write during the fault answers 201 or 503, not {}: {}",
            res.status,
            res.body
        );
        if res.status == 503 {
            assert_told_to_retry(res, "a write during the fault");
        }
    }
    drop(immutable);

    eventually(Duration::from_secs(10), "/readyz is 200 again", || async {
        ready(&app).await == 200
    })
    .await;
    let writes = (0..40).map(|i| {
        app.json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({ "title": format!("after {i}") })),
        )
    });
    for res in futures_util::future::join_all(writes).await {
        assert_eq!(res.status, 201, "every write after the fault: {}", res.body);
    }
    eventually(
        Duration::from_secs(30),
        "every danmaku accepted during the fault is stored",
        || async {
            let stored = stored_texts(&app, &room).await;
            during.iter().all(|t| stored.contains(t))
        },
    )
    .await;
}

/// Another connection holds the database locked (SQLite: `BEGIN
/// EXCLUSIVE`; PostgreSQL: `LOCK TABLE ... ACCESS EXCLUSIVE` on the tables written) while a
/// viewer sends danmaku and a user creates a room: the room creation is told 503 `029` with
/// `Retry-After` within a few seconds, `/readyz` answers promptly, and once the lock is gone
/// every danmaku the room accepted is stored, none given up.
async fn danmaku_sent_while_the_database_is_locked_are_all_stored_afterwards(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.database.timeout_secs = 1;
        s.danmaku.rate = "1000/1s".into();
    })
    .await;
    let token = app.signed_in_user("locked").await;
    let room = app.create_room(&token, "locked room").await;
    let (mut viewer, _) = app.viewer(&room, Some(&token)).await;
    let url = app.settings.database.url.expose().to_string();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || hold_lock(&url, release_rx, locked_tx));
    locked_rx.recv().unwrap();

    let texts: Vec<String> = (0..30).map(|i| format!("while locked {i}")).collect();
    send_and_see(&mut viewer, &texts).await;
    let started = Instant::now();
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({ "title": "blocked" })),
        )
        .await;
    assert_told_to_retry(&res, "a write while locked");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answered promptly"
    );
    let started = Instant::now();
    ready(&app).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "/readyz answers promptly"
    );
    release.send(()).unwrap();
    holder.join().unwrap();

    eventually(
        Duration::from_secs(30),
        "every danmaku accepted while locked is stored",
        || async {
            let stored = stored_texts(&app, &room).await;
            texts.iter().all(|t| stored.contains(t))
        },
    )
    .await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("roomcast_danmaku_save_dropped_total 0"),
        "nothing given up"
    );
}

/// Holds the database locked against writers from another connection until `release`.
fn hold_lock(
    url: &str,
    release: std::sync::mpsc::Receiver<()>,
    locked: std::sync::mpsc::Sender<()>,
) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        conn.batch_execute("BEGIN EXCLUSIVE").unwrap();
        locked.send(()).unwrap();
        let _ = release.recv();
        conn.batch_execute("COMMIT").unwrap();
    } else {
        let mut conn = diesel::PgConnection::establish(url).unwrap();
        conn.batch_execute("BEGIN; LOCK TABLE danmaku, rooms IN EXCLUSIVE MODE;")
            .unwrap();
        locked.send(()).unwrap();
        let _ = release.recv();
        conn.batch_execute("COMMIT").unwrap();
    }
}

/// Sets the immutable flag on a file until dropped.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn set(path: &std::path::Path) -> Self {
        let status = Command::new("chattr").arg("+i").arg(path).status().unwrap();
        assert!(
            status.success(),
            "chattr +i (root and ext4 or similar needed)"
        );
        Self(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// A late-`moov` MP4 of two hours of tiny frames (about 55 MB, 400,000 packets): its
/// faststart remux copies for most of a second, long enough to crash the server inside it.
fn long_late_moov() -> std::path::PathBuf {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("faults-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let clip = dir.join("clip.mp4");
        let long = dir.join("long.mp4");
        crate::media::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=96x64:rate=50",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=8000",
            "-t",
            "10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "45",
            "-g",
            "250",
            "-c:a",
            "aac",
            "-b:a",
            "8k",
            "-shortest",
            clip.to_str().unwrap(),
        ]);
        crate::media::ffmpeg(&[
            "-stream_loop",
            "799",
            "-i",
            clip.to_str().unwrap(),
            "-c",
            "copy",
            long.to_str().unwrap(),
        ]);
        long
    })
    .clone()
}

/// Children of `parent` whose command line contains `needle`.
fn children_running(parent: u32, needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the command's closing parenthesis: state, ppid, ...
        let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
        let mut fields = after.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next());
        if state == Some("Z") || ppid != Some(&parent.to_string()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// True while `pid` runs (exists and is not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
            after.split_whitespace().next() != Some("Z")
        })
        .unwrap_or(false)
}

/// The top-level box types at the start of an MP4 file, in order.
fn top_level_boxes(path: &std::path::Path, count: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).unwrap();
    let mut types = Vec::new();
    let mut at = 0u64;
    for _ in 0..count {
        let mut header = [0u8; 16];
        file.seek(SeekFrom::Start(at)).unwrap();
        if file.read_exact(&mut header[..8]).is_err() {
            break;
        }
        let mut size = u32::from_be_bytes(header[..4].try_into().unwrap()) as u64;
        if size == 1 {
            file.read_exact(&mut header[8..16]).unwrap();
            size = u64::from_be_bytes(header[8..16].try_into().unwrap());
        }
        types.push(String::from_utf8_lossy(&header[4..8]).into_owned());
        if size == 0 {
            break;
        }
        at += size;
    }
    types
}

/// The server is killed with SIGKILL while ffmpeg remuxes an upload to faststart, with
/// job leases set to five minutes: the remux dies with the server (no orphan keeps
/// writing), and the restarted server takes the interrupted job at once (not after the
/// lease), remuxes again into a scratch file of its own and serves the same video intact,
/// with no scratch file left behind.
#[actix_web::test]
async fn a_crash_in_the_middle_of_a_remux_loses_nothing_and_leaves_no_ffmpeg_behind() {
    let source = long_late_moov();
    let server = crate::process::ServerProcess::start(&[("ROOMCAST__JOBS__LEASE_SECS", "300")]);
    let token = format!("Bearer {}", server.admin("crasher").await);
    let bytes = std::fs::read(&source).unwrap();
    let (content_type, body) =
        crate::media::multipart(&[("title", "Long")], Some(("long.mp4", &bytes)));
    let mut answer = awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish()
        .post(server.url("/api/videos"))
        .insert_header(("Authorization", token.as_str()))
        .insert_header(("Content-Type", content_type))
        .send_body(body)
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let video: serde_json::Value = answer.json().await.unwrap();
    let id = video["id"].as_str().unwrap().to_string();

    // Another upload is cut off half-way by the crash: its body must not outlive it.
    let half = bytes.len() / 2;
    let mut cut = tokio::net::TcpStream::connect(server.url("").trim_start_matches("http://"))
        .await
        .unwrap();
    let (content_type, body) =
        crate::media::multipart(&[("title", "Cut")], Some(("cut.mp4", &bytes)));
    let head = format!(
        "POST /api/videos HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut cut, head.as_bytes())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut cut, &body[..half])
        .await
        .unwrap();
    let tmp = server.dir().join("data/tmp");
    let parts = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .count()
    };
    eventually(
        Duration::from_secs(10),
        "the cut upload's body is on disk",
        || async { parts() == 1 },
    )
    .await;

    let mut server = server;
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ffmpeg = loop {
        if let Some(&ffmpeg) = children_running(pid, "faststart.mp4").first() {
            break ffmpeg;
        }
        assert!(Instant::now() < deadline, "no faststart remux started");
        std::thread::sleep(Duration::from_millis(2));
    };
    server.crash();
    eventually(
        Duration::from_millis(300),
        "the remux dies with the server",
        || async { !running(ffmpeg) },
    )
    .await;

    let server = server.restart();
    let data = server.dir().join("data");
    let started = Instant::now();
    let mut last = serde_json::Value::Null;
    while started.elapsed() < Duration::from_secs(60) {
        let mut res = awc::Client::default()
            .get(server.url(&format!("/api/videos/{id}")))
            .insert_header(("Authorization", token.as_str()))
            .send()
            .await
            .unwrap();
        last = res.json().await.unwrap();
        if last["status"] != "processing" {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "ready", "{last}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "ready without waiting out the five-minute lease"
    );
    let stored = data.join("videos").join(format!("{id}.mp4"));
    assert_eq!(
        top_level_boxes(&stored, 2),
        ["ftyp", "moov"],
        "the stored file is faststart"
    );
    assert!(video["duration_ms"].as_i64().unwrap() > 7_900_000);
    assert_eq!(
        last["duration_ms"], video["duration_ms"],
        "the whole video, as probed at upload"
    );
    let probed = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&stored)
        .output()
        .unwrap();
    let seconds: f64 = String::from_utf8_lossy(&probed.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(
        (seconds * 1000.0 - last["duration_ms"].as_f64().unwrap()).abs() < 1000.0,
        "the stored file plays for {seconds} s"
    );
    let left: Vec<_> = std::fs::read_dir(data.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&id))
        .collect();
    assert!(left.is_empty(), "scratch files left behind: {left:?}");
    assert_eq!(parts(), 0, "the cut upload's body was removed at start-up");
    drop(cut);
}

/// A tmpfs of `size` mounted at a fresh directory (root is needed) until dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs (root needed)");
        Self { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the disk until `leave` bytes are free, in a file `fill` that `drain` removes.
    fn fill(&self, leave: u64) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join("fill")).unwrap();
        let chunk = vec![0u8; 4096];
        while self.free() > leave + chunk.len() as u64 {
            file.write_all(&chunk).unwrap();
            file.sync_data().unwrap();
        }
    }

    fn drain(&self) {
        std::fs::remove_file(self.path().join("fill")).unwrap();
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Storage on an 8 MiB tmpfs (the database lives elsewhere). With 64 KiB free, a plain
/// upload gets 507 `030` and leaves no partial file; a resumable upload's PATCH gets 507,
/// HEAD then reports only whole chunks, and once space is freed it resumes to a ready video.
/// With room for an upload but not for its faststart copy, processing fails for lack of
/// space, keeps the upload and the video `processing`, and finishes once space is freed.
#[actix_web::test]
async fn a_full_disk_refuses_uploads_with_507_keeps_nothing_partial_and_processing_waits() {
    let disk = SmallDisk::mount("8m");
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.storage.dir = disk.path().join("data");
        s.jobs.retry_base_ms = 300;
        s.jobs.max_attempts = 50;
    })
    .await;
    let token = app.signed_in_user("full").await;
    let card = crate::media::bytes(crate::media::Fixture::LateMoov);

    disk.fill(64 << 10);
    let res = app
        .upload(Auth::Bearer(&token), "Too big", "card.mp4", &card)
        .await;
    assert_eq!(
        res.status, 507,
        "a plain upload on a full disk: {}",
        res.body
    );
    assert_eq!(res.error_code(), "030");
    assert!(res.body["error"].as_str().unwrap().contains("disk is full"));
    app.assert_no_files_in("tmp").await;

    let url = crate::uploads::create(&app, &token, card.len()).await;
    let (status, _, body) = crate::uploads::tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &[
            (crate::uploads::TUS.0, crate::uploads::TUS.1.into()),
            ("Upload-Offset", "0".into()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        card.clone(),
    )
    .await;
    assert_eq!(status, 507, "a resumable PATCH on a full disk: {body:?}");
    let kept = crate::uploads::offset(&app, &token, &url).await;
    assert!(kept < card.len() as u64, "not all of it fitted");
    disk.drain();
    let (status, headers, body) = crate::uploads::tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &[
            (crate::uploads::TUS.0, crate::uploads::TUS.1.into()),
            ("Upload-Offset", kept.to_string()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        card[kept as usize..].to_vec(),
    )
    .await;
    assert_eq!(status, 204, "the rest after space was freed: {body:?}");
    let resumed = headers
        .get("roomcast-video-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let video = app.wait_processed(&token, &resumed).await;
    assert_eq!(video["status"], "ready", "{video}");

    // Room for the upload, not for its faststart copy.
    disk.fill(card.len() as u64 + (64 << 10));
    let res = app
        .upload(Auth::Bearer(&token), "Waits", "card.mp4", &card)
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_string();
    let payload = format!("{{\"video\":\"{id}\"}}");
    eventually(
        Duration::from_secs(20),
        "processing fails for lack of space and will retry",
        || async {
            let mut conn = app.pool.get().unwrap();
            let jobs = roomcast::db::jobs::recent(&mut conn, None, 50).unwrap();
            jobs.iter().any(|j| {
                j.payload == payload
                    && j.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("No space left on device"))
            })
        },
    )
    .await;
    let waiting = app
        .json(
            Method::GET,
            &format!("/api/videos/{id}"),
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(waiting.body["status"], "processing", "{}", waiting.body);
    assert!(
        app.files_in("tmp").iter().any(|f| f.starts_with(&id)),
        "the upload is kept"
    );
    disk.drain();
    let video = app.wait_processed(&token, &id).await;
    assert_eq!(video["status"], "ready", "{video}");
}

/// A TCP proxy to PostgreSQL that can freeze: while frozen it holds every byte in both
/// directions, as a server stopped with SIGSTOP would (the kernel still accepts, nobody
/// answers). Runs on a thread of its own until dropped.
struct FreezingProxy {
    addr: std::net::SocketAddr,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FreezingProxy {
    fn start(target: String) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let frozen = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let flag = Arc::clone(&frozen);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let accept = async {
                    loop {
                        let (client, _) = listener.accept().await.unwrap();
                        let server = tokio::net::TcpStream::connect(&target).await.unwrap();
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        for (from, to) in [(cr, sw), (sr, cw)] {
                            let flag = Arc::clone(&flag);
                            tokio::spawn(async move {
                                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                                let (mut from, mut to) = (from, to);
                                let mut buf = vec![0u8; 16 << 10];
                                loop {
                                    let n = match from.read(&mut buf).await {
                                        Ok(0) | Err(_) => return,
                                        Ok(n) => n,
                                    };
                                    while flag.load(Ordering::Relaxed) {
                                        tokio::time::sleep(Duration::from_millis(10)).await;
                                    }
                                    if to.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            });
                        }
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            addr: addr_rx.recv().unwrap(),
            frozen,
            stop: Some(stop),
        }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen
            .store(frozen, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for FreezingProxy {
    fn drop(&mut self) {
        self.freeze(false);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// PostgreSQL freezes (every byte held, as under SIGSTOP) with `database.timeout_secs = 1`:
/// a write, a read and `/readyz` each answer 503 within a few seconds (`029` with
/// `Retry-After` for the API) instead of hanging, and once it thaws everything works again
/// with nothing lost.
#[actix_web::test]
async fn a_frozen_postgresql_answers_503_within_seconds_and_recovers_when_it_thaws() {
    let Some(Backend::Postgres(server)) = Backend::postgres() else {
        return;
    };
    let host = server
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let proxy = FreezingProxy::start(host.clone());
    let through = proxy.addr.to_string();
    let app = spawn_app_with(Backend::Postgres(server), move |s| {
        s.database.timeout_secs = 1;
        let url = s.database.url.expose().replacen(&host, &through, 1);
        s.database.url = roomcast::config::DatabaseUrl(url);
    })
    .await;
    let token = app.signed_in_user("frozen").await;
    let kept = app.create_room(&token, "made before").await;

    proxy.freeze(true);
    let started = Instant::now();
    let write = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({ "title": "while frozen" })),
        )
        .await;
    assert_told_to_retry(&write, "a write while frozen");
    let read = app
        .json(Method::GET, &format!("/api/rooms/{kept}"), Auth::None, None)
        .await;
    assert_told_to_retry(&read, "a read while frozen");
    assert_eq!(ready(&app).await, 503, "/readyz while frozen");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "three requests answered within a few seconds each: {:?}",
        started.elapsed()
    );

    proxy.freeze(false);
    eventually(
        Duration::from_secs(15),
        "/readyz is 200 after the thaw",
        || async { ready(&app).await == 200 },
    )
    .await;
    let after = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({ "title": "after the thaw" })),
        )
        .await;
    assert_eq!(after.status, 201, "{}", after.body);
    let read = app
        .json(Method::GET, &format!("/api/rooms/{kept}"), Auth::None, None)
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
}

/// A client announces a 100-byte JSON body, sends 10 bytes and stalls (with
/// `stream.write_timeout_secs = 1`): it is answered with an error and its connection
/// closed within a few seconds, not held open for minutes.
#[actix_web::test]
async fn a_request_body_that_stalls_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Backend::Sqlite, |s| s.stream.write_timeout_secs = 1).await;
    let port = app.address.rsplit(':').next().unwrap();
    let mut socket = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    socket
        .write_all(
            b"POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"username",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read =
        actix_web::rt::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
            .await;
    assert!(read.is_ok(), "the connection was closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 4"),
        "answered with a client error: {answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
