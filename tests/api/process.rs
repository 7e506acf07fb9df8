//! `ServerProcess`: a real `roomcast serve` process, for what an in-process `TestApp` cannot
//! show: a crash (SIGKILL) and a restart on the same data, a node's memory, several nodes
//! sharing PostgreSQL and NATS. Its log lines are echoed to the test's output (prefixed with
//! its name) and kept for the test to read.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::{json, Value};

use crate::cli::roomcast;
use crate::helpers::eventually;

pub const PASSWORD: &str = "password123";

pub struct ServerProcess {
    pub name: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub child: Child,
    log: Arc<Mutex<Vec<String>>>,
    dir: Arc<tempfile::TempDir>,
    env: Vec<(String, String)>,
}

impl ServerProcess {
    /// A server on SQLite in a temporary directory of its own, with `env` set.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::start_in("server", Arc::new(tempfile::tempdir().unwrap()), env)
    }

    /// A server working in `dir` (so sharing its `data/` with others started there).
    pub fn start_in(
        name: &'static str,
        dir: Arc<tempfile::TempDir>,
        env: Vec<(String, String)>,
    ) -> Self {
        let mut child = command(dir.path(), &env)
            .arg("serve")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("[{name}] {line}");
                if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                    let port: u16 = rest.split_whitespace().next().unwrap().parse().unwrap();
                    let _ = tx.send(port);
                }
                kept.lock().unwrap().push(line);
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name} did not start"));
        Self {
            name,
            address: format!("http://127.0.0.1:{port}"),
            child,
            log,
            dir,
            env,
        }
    }

    /// SIGKILL: no clean-up of any kind runs, no lease is released.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits (up to 15 s) for the process to end.
    pub fn terminate(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not stop on SIGTERM", self.name);
    }

    /// Crashes this server and starts a new one in the same directory with the same
    /// settings (so on the same database and storage).
    pub fn restart(mut self) -> Self {
        self.crash();
        Self::start_in(
            self.name,
            Arc::clone(&self.dir),
            std::mem::take(&mut self.env),
        )
    }

    /// The server's working directory (its `data/` holds the database and storage).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until the server logs a line containing `needle`.
    pub async fn until_logged(&self, needle: &str, wait: Duration) {
        let what = format!("{} logs {needle:?}", self.name);
        eventually(wait, &what, || async { self.log().contains(needle) }).await;
    }

    /// Adds a user with the CLI (same directory and settings, so the same database).
    pub fn add_user(&self, name: &str, admin: bool) {
        add_user(self.dir(), &self.env, name, admin);
    }

    /// A JSON request; the status and the body (`null` when not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let mut req = client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let mut res = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        }
        .unwrap_or_else(|e| panic!("{}: {path}: {e}", self.name));
        let bytes = res.body().limit(8 << 20).await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (res.status().as_u16(), value)
    }

    /// A POST with extra headers; the body gains `has_retry_after`.
    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
        let mut req = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish()
            .post(self.url(path));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = req.send_json(&body).await.unwrap();
        let retry = res.headers().get("retry-after").is_some();
        let mut json: Value = res.json().await.unwrap_or(Value::Null);
        json["has_retry_after"] = retry.into();
        (res.status().as_u16(), json)
    }

    /// A GET with extra headers; the body as text.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> String {
        let mut req = awc::Client::default().get(self.url(path));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = req.send().await.unwrap();
        String::from_utf8(res.body().limit(8 << 20).await.unwrap().to_vec()).unwrap()
    }

    /// `VmRSS` and `VmHWM` (peak) in MiB.
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
                / 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Logs in a user the CLI added; returns the session token.
    pub async fn login(&self, name: &str) -> String {
        let body = json!({ "username": name, "password": PASSWORD });
        let (status, res) = self
            .call(Method::POST, "/api/sessions", None, Some(body))
            .await;
        assert_eq!(status, 201, "{res}");
        res["token"].as_str().unwrap().to_string()
    }

    /// Adds an admin with the CLI and logs in; returns the session token.
    pub async fn admin(&self, name: &str) -> String {
        self.add_user(name, true);
        self.login(name).await
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.crash();
    }
}

/// `roomcast` in `dir` with the test defaults and `env` on top.
pub fn command(dir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = roomcast(dir);
    cmd.env("ROOMCAST__HTTP__WORKERS", "2")
        .env("RUST_LOG", "info,actix_server=warn");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// `roomcast user add NAME [--admin]` in `dir` with `env`.
pub fn add_user(dir: &Path, env: &[(String, String)], name: &str, admin: bool) {
    let mut cmd = command(dir, env);
    cmd.args(["user", "add", name]);
    if admin {
        cmd.arg("--admin");
    }
    let out = cmd
        .env("ROOMCAST_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
