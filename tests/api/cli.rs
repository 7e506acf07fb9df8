//! The `roomcast` binary: `serve` with layered configuration, `migrate`, `user add`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::helpers::{spawn_app_with, Backend};

const BIN: &str = env!("CARGO_BIN_EXE_roomcast");

pub fn roomcast(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("RUST_LOG")
        .env("ROOMCAST__HTTP__ADDR", "127.0.0.1:0")
        // Servers started side by side would all want port 1935.
        .env("ROOMCAST__INGEST__RTMP_ADDR", "");
    cmd
}

/// Kills the server when the test ends, however it ends.
pub struct Server(Child);

impl Server {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL: the server gets no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `roomcast serve` and returns it with the port its log line reports.
pub fn serve(mut cmd: Command) -> (Server, u16) {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
            let port = rest.split_whitespace().next().unwrap().parse().unwrap();
            return (server, port);
        }
    }
    panic!("the server exited without saying where it listens");
}

#[actix_web::test]
async fn serve_reads_the_config_file_and_env_vars_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("custom.toml"),
        "[http]\naddr = \"127.0.0.1:1\"\n[database]\nurl = \"sqlite://from-file.db\"\n[sessions]\nttl_secs = 77\n",
    )
    .unwrap();
    // The file's http.addr (port 1) is overridden by ROOMCAST__HTTP__ADDR (port 0).
    let mut cmd = roomcast(dir.path());
    cmd.args(["serve", "--config", "custom.toml"]);
    let (_server, port) = serve(cmd);
    assert!(
        dir.path().join("from-file.db").exists(),
        "database.url came from the file"
    );
    let client = awc::Client::default();
    client
        .post(format!("http://127.0.0.1:{port}/api/users"))
        .send_json(&serde_json::json!({"username": "ivan", "password": "password123"}))
        .await
        .unwrap();
    let mut res = client
        .post(format!("http://127.0.0.1:{port}/api/sessions"))
        .send_json(&serde_json::json!({"username": "ivan", "password": "password123"}))
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let ttl = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!(
        (70..=77).contains(&ttl),
        "sessions.ttl_secs came from the file: {ttl}"
    );
}

#[actix_web::test]
async fn serve_is_the_default_command_and_creates_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = serve(roomcast(dir.path()));
    let res = awc::Client::default()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(dir.path().join("data/roomcast.db").exists());
    for sub in ["videos", "thumbs", "live", "tmp"] {
        assert!(dir.path().join("data").join(sub).is_dir(), "{sub}");
    }
}

#[actix_web::test]
async fn migrate_applies_the_migrations_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = roomcast(dir.path()).arg("migrate").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // One per directory under migrations/sqlite.
    let dirs = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert!(dirs >= 5, "the migrations are where the test looks");
    let first = run();
    assert!(
        first.starts_with(&format!("applied {dirs} migrations")),
        "{first}"
    );
    assert!(run().starts_with("applied 0 migrations"));
}

#[actix_web::test]
async fn user_add_creates_an_admin_who_can_log_in() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let url = app.settings.database.url.expose().to_string();
    let out = roomcast(app.dir.path())
        .args(["user", "add", "root_admin", "--admin"])
        .env("ROOMCAST__DATABASE__URL", &url)
        .env("ROOMCAST_PASSWORD", "admin-password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = app.login("root_admin", "admin-password").await;
    assert_eq!(res.status, 201);
    let token = res.body["token"].as_str().unwrap();
    let me = app.me(crate::helpers::Auth::Bearer(token)).await;
    assert_eq!(me.body["role"], "admin");

    // The same name again is refused, and so is a password piped on stdin that is too short.
    let again = roomcast(app.dir.path())
        .args(["user", "add", "root_admin"])
        .env("ROOMCAST__DATABASE__URL", &url)
        .env("ROOMCAST_PASSWORD", "admin-password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let mut short = roomcast(app.dir.path())
        .args(["user", "add", "someone"])
        .env("ROOMCAST__DATABASE__URL", &url)
        .env_remove("ROOMCAST_PASSWORD")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    short.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = short.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("8 to 1024"));
}
