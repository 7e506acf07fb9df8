//! Faults injected into the real server's surroundings: a database file made immutable, a
//! database held locked by another connection. Each test says what was done and asserts
//! that nothing accepted was lost and that the server told clients to retry meanwhile.

use std::process::Command;
use std::time::{Duration, Instant};

use awc::http::Method;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::json;

use crate::helpers::{spawn_app_with, Auth, Backend, TestApp, WsClient};
use crate::on_both_backends;

on_both_backends!(danmaku_sent_while_the_database_is_locked_are_all_stored_afterwards,);

/// Waits up to `limit` for `check` to hold; panics with `what` otherwise.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("within {limit:?}: {what}");
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
            assert_eq!(res.error_code(), "029");
            assert!(res.header("retry-after").is_some());
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

/// Another connection holds the database locked for four seconds (SQLite: `BEGIN
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
    let holder = std::thread::spawn(move || hold_lock(&url, Duration::from_secs(4), locked_tx));
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
    assert_eq!(res.status, 503, "a write while locked: {}", res.body);
    assert_eq!(res.error_code(), "029");
    assert!(res.header("retry-after").is_some());
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

/// Holds the database locked against writers for `hold` from another connection.
fn hold_lock(url: &str, hold: Duration, locked: std::sync::mpsc::Sender<()>) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        conn.batch_execute("BEGIN EXCLUSIVE").unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(hold);
        conn.batch_execute("COMMIT").unwrap();
    } else {
        let mut conn = diesel::PgConnection::establish(url).unwrap();
        conn.batch_execute("BEGIN; LOCK TABLE danmaku, rooms IN EXCLUSIVE MODE;")
            .unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(hold);
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
