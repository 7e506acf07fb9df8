//! `spawn_app()`: the real server on port 0 with its own database (a temporary SQLite file,
//! or a fresh PostgreSQL database when `ROOMCAST_TEST_DATABASE_URL` is set), plus typed
//! request helpers.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use awc::http::StatusCode;
use diesel::{Connection, RunQueryDsl};
use roomcast::config::{DatabaseUrl, Settings};
use roomcast::db::DbPool;
use roomcast::jobs::JobSystem;
use roomcast::startup::Application;
use serde_json::{json, Value};
use tempfile::TempDir;

/// Waits up to `limit` for `check` to hold; panics with `what` otherwise.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("within {limit:?}: {what}");
}

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The server URL to create a per-test database on.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when the suite was asked to use it, else `None` (the test is reported
    /// and returns; CI always sets the variable, so nothing is skipped there).
    pub fn postgres() -> Option<Self> {
        match std::env::var("ROOMCAST_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!("ROOMCAST_TEST_DATABASE_URL is not set: PostgreSQL variant not run");
                None
            }
        }
    }
}

/// Declares each listed `async fn name(backend: Backend)` as two tests, one per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// A PostgreSQL database created for one test and dropped after it.
pub struct PgDatabase {
    server_url: String,
    name: String,
}

impl PgDatabase {
    pub fn create(server_url: &str) -> (Self, String) {
        let name = format!("roomcast_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(server_url).unwrap_or_else(|e| {
            panic!("ROOMCAST_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("creating the test database");
        let url = with_database_name(server_url, &name);
        (
            Self {
                server_url: server_url.to_string(),
                name,
            },
            url,
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.server_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// `postgres://u@h:p/db?x` with `db` replaced by `name`.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

pub struct TestApp {
    pub address: String,
    pub settings: Settings,
    pub client: awc::Client,
    pub pool: DbPool,
    pub jobs: JobSystem,
    handle: ServerHandle,
    pub dir: TempDir,
    _pg: Option<PgDatabase>,
}

/// A response with its parsed JSON body (`Value::Null` when there is none).
pub struct JsonResponse {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl JsonResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    pub fn error_code(&self) -> &str {
        self.body["error_code"].as_str().unwrap_or("")
    }
}

/// A page response with its HTML.
pub struct PageResponse {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub html: String,
}

impl PageResponse {
    /// Every `Set-Cookie` as `name=value`.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .collect()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies()
            .into_iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    /// The value of the first hidden `csrf_token` input.
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.html.find(marker).expect("the page has a CSRF field") + marker.len();
        let end = self.html[start..].find('"').unwrap();
        self.html[start..start + end].to_string()
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.http.addr = "127.0.0.1:0".into();
    settings.http.workers = 2;
    settings.database.pool_size = 4;
    settings.pages.home_cache_ms = 0;
    settings.storage.dir = dir.path().join("data");
    // Tests sign many users up from one address and post quickly; the tests of these
    // limits set them low again.
    settings.limits.signups_per_hour = 10_000;
    settings.limits.comments_per_minute = 10_000;
    settings.limits.rooms_per_hour = 10_000;
    // Off unless a test publishes (then it picks a free port).
    settings.ingest.rtmp_addr = String::new();
    let pg = match backend {
        Backend::Sqlite => {
            let path = dir.path().join("roomcast.db");
            settings.database.url = DatabaseUrl(format!("sqlite://{}", path.display()));
            None
        }
        Backend::Postgres(server_url) => {
            let (db, url) = PgDatabase::create(&server_url);
            settings.database.url = DatabaseUrl(url);
            Some(db)
        }
    };
    configure(&mut settings);
    let (address, handle, pool, jobs) = start(settings.clone()).await;
    TestApp {
        address,
        settings,
        client: client(),
        pool,
        jobs,
        handle,
        dir,
        _pg: pg,
    }
}

async fn start(settings: Settings) -> (String, ServerHandle, DbPool, JobSystem) {
    let app = Application::build(settings)
        .await
        .expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let pool = app.pool().clone();
    let jobs = app.jobs();
    actix_web::rt::spawn(app.run_until_stopped());
    (address, handle, pool, jobs)
}

fn client() -> awc::Client {
    // Idle connections are let go before the server's own 5 s keep-alive closes them: a
    // request sent on a connection the server is just closing fails with `Disconnected`.
    let connector = awc::Connector::new().conn_keep_alive(Duration::from_secs(2));
    awc::Client::builder()
        .connector(connector)
        .timeout(Duration::from_secs(30))
        .disable_redirects()
        .finish()
}

/// How a request proves who it is.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Cookie(&'a str),
    Bearer(&'a str),
    SessionIdHeader(&'a str),
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Enqueues a run of `kind` on this node and waits until it is done or dead; returns the
    /// job as the API shows it.
    pub async fn run_job(&self, kind: &str) -> serde_json::Value {
        let id = self
            .jobs
            .enqueue(kind, "{}")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no job kind {kind}"));
        self.wait_job(&id, &["done", "dead"]).await
    }

    /// Waits up to 20 s for job `id` to reach one of `states`; returns it.
    pub async fn wait_job(&self, id: &str, states: &[&str]) -> serde_json::Value {
        let mut last = None;
        for _ in 0..400 {
            let mut conn = self.pool.get().unwrap();
            let job = roomcast::db::jobs::find(&mut conn, id)
                .unwrap()
                .expect("the job exists");
            drop(conn);
            if states.contains(&job.state.as_str()) {
                return roomcast::actions::jobs::job_json(&job);
            }
            last = Some(job.state);
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} never reached {states:?}; it is {last:?}");
    }

    /// Another server on the same database and storage: its own port, actors and job worker.
    /// Returns its address, a handle that stops it, and its job system.
    pub async fn another_node(&self) -> (String, ServerHandle, JobSystem) {
        let (address, handle, _pool, jobs) = start(self.settings.clone()).await;
        (address, handle, jobs)
    }

    /// Stops the server and starts a new one on the same database and storage.
    pub async fn restart(&mut self) {
        self.handle.stop(true).await;
        let (address, handle, pool, jobs) = start(self.settings.clone()).await;
        self.address = address;
        self.handle = handle;
        self.pool = pool;
        self.jobs = jobs;
    }

    fn request(&self, method: awc::http::Method, path: &str, auth: Auth<'_>) -> awc::ClientRequest {
        let req = self.client.request(method, self.url(path));
        match auth {
            Auth::None => req,
            Auth::Cookie(t) => req.insert_header(("Cookie", format!("roomcast_session={t}"))),
            Auth::Bearer(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
            Auth::SessionIdHeader(t) => req.insert_header(("X-Session-Id", t.to_string())),
        }
    }

    pub async fn json(
        &self,
        method: awc::http::Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> JsonResponse {
        let req = self.request(method, path, auth);
        let mut res = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        }
        .expect("the request reaches the server");
        let bytes = res.body().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        JsonResponse {
            status: res.status(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub async fn register(&self, username: &str, password: &str) -> JsonResponse {
        let body = json!({ "username": username, "password": password });
        self.json(
            awc::http::Method::POST,
            "/api/users",
            Auth::None,
            Some(body),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> JsonResponse {
        let body = json!({ "username": username, "password": password });
        self.json(
            awc::http::Method::POST,
            "/api/sessions",
            Auth::None,
            Some(body),
        )
        .await
    }

    /// Registers and logs in; returns the session token.
    pub async fn signed_in_user(&self, username: &str) -> String {
        assert_eq!(self.register(username, "password123").await.status, 201);
        let res = self.login(username, "password123").await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body["token"].as_str().unwrap().to_string()
    }

    /// Registers and logs in a user made admin (as `roomcast user add --admin` would);
    /// returns the session token.
    pub async fn admin(&self, username: &str) -> String {
        let token = self.signed_in_user(username).await;
        let mut conn = self.pool.get().unwrap();
        assert!(roomcast::db::users::set_role(&mut conn, username, "admin").unwrap());
        token
    }

    pub async fn me(&self, auth: Auth<'_>) -> JsonResponse {
        self.json(awc::http::Method::GET, "/api/users/me", auth, None)
            .await
    }

    pub async fn page(&self, path: &str, cookies: &[(&str, &str)]) -> PageResponse {
        let mut req = self.client.get(self.url(path));
        if !cookies.is_empty() {
            req = req.insert_header(("Cookie", cookie_header(cookies)));
        }
        let mut res = req.send().await.expect("the request reaches the server");
        page_response(&mut res).await
    }

    pub async fn post_form(
        &self,
        path: &str,
        cookies: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> PageResponse {
        let mut req = self.client.post(self.url(path));
        if !cookies.is_empty() {
            req = req.insert_header(("Cookie", cookie_header(cookies)));
        }
        let mut res = req
            .send_form(&form)
            .await
            .expect("the request reaches the server");
        page_response(&mut res).await
    }
}

fn cookie_header(cookies: &[(&str, &str)]) -> String {
    cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn page_response<S>(res: &mut awc::ClientResponse<S>) -> PageResponse
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let bytes = res.body().limit(4 << 20).await.unwrap();
    PageResponse {
        status: res.status(),
        headers: res.headers().clone(),
        html: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

#[test]
fn a_database_name_is_replaced_in_postgres_urls() {
    assert_eq!(
        with_database_name("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database_name("postgres://u:p@h/db?sslmode=disable", "t2"),
        "postgres://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(with_database_name("postgres://h", "t3"), "postgres://h/t3");
}

/// A danmaku WebSocket client.
pub struct WsClient {
    framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
    /// Opened with `?compress=deflate`: binary frames are inflated JSON.
    inflate: bool,
}

impl TestApp {
    /// Creates a room owned by the user behind `token`; returns its id.
    pub async fn create_room(&self, token: &str, title: &str) -> String {
        let res = self
            .json(
                awc::http::Method::POST,
                "/api/rooms",
                Auth::Bearer(token),
                Some(json!({ "title": title })),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body["id"].as_str().unwrap().to_string()
    }

    /// Opens `/ws/rooms/{room}` and reads its `hello`.
    pub async fn viewer(&self, room: &str, token: Option<&str>) -> (WsClient, Value) {
        let mut ws = self
            .ws_connect(room, token, None)
            .await
            .expect("the socket opens");
        let hello = ws.next_json().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        (ws, hello)
    }

    pub async fn ws_connect(
        &self,
        room: &str,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Result<WsClient, awc::error::WsClientError> {
        ws_connect_at(&self.address, &format!("/ws/rooms/{room}"), token, origin).await
    }
}

/// Opens the WebSocket at `path` on the server at `address`.
pub async fn ws_connect_at(
    address: &str,
    path: &str,
    token: Option<&str>,
    origin: Option<&str>,
) -> Result<WsClient, awc::error::WsClientError> {
    let url = format!("{}{path}", address.replace("http://", "ws://"));
    let mut req = awc::Client::new().ws(url).max_frame_size(4 << 20);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(origin) = origin {
        req = req.origin(origin);
    }
    let (_, framed) = req.connect().await?;
    let inflate = path.contains("compress=deflate");
    Ok(WsClient { framed, inflate })
}

impl WsClient {
    pub async fn send_json(&mut self, value: Value) {
        self.send(awc::ws::Message::Text(value.to_string().into()))
            .await;
    }

    pub async fn send(&mut self, msg: awc::ws::Message) {
        self.try_send(msg).await.expect("the socket is open");
    }

    /// Sends, or says why it could not (the server ended the connection).
    pub async fn try_send(
        &mut self,
        msg: awc::ws::Message,
    ) -> Result<(), awc::error::WsProtocolError> {
        use futures_util::SinkExt;
        self.framed.send(msg).await
    }

    /// The next frame, if one comes within `wait`.
    pub async fn next_frame(&mut self, wait: Duration) -> Option<awc::ws::Frame> {
        use futures_util::StreamExt;
        match actix_web::rt::time::timeout(wait, self.framed.next()).await {
            Ok(Some(Ok(frame))) => Some(frame),
            Ok(Some(Err(e))) => panic!("protocol error: {e}"),
            Ok(None) | Err(_) => None,
        }
    }

    /// The next text frame as JSON (pings are answered, other control frames skipped).
    pub async fn next_json(&mut self) -> Value {
        self.try_next_json(Duration::from_secs(5))
            .await
            .expect("a frame arrives within 5 s")
    }

    pub async fn try_next_json(&mut self, wait: Duration) -> Option<Value> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.next_frame(left).await? {
                awc::ws::Frame::Text(bytes) => {
                    return Some(serde_json::from_slice(&bytes).unwrap())
                }
                // A compressed viewer's `hello` and `batch`: raw DEFLATE, inflated by flate2.
                awc::ws::Frame::Binary(bytes) if self.inflate => {
                    let inflated = flate2::read::DeflateDecoder::new(&bytes[..]);
                    return Some(serde_json::from_reader(inflated).expect("raw DEFLATE of JSON"));
                }
                awc::ws::Frame::Ping(p) => self.send(awc::ws::Message::Pong(p)).await,
                awc::ws::Frame::Close(reason) => panic!("closed: {reason:?}"),
                _ => {}
            }
        }
    }

    /// The next frame of `kind` (`online` frames and others are skipped).
    pub async fn next_of_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_json().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed_with(&mut self, wait: Duration) -> Option<u16> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.next_frame(left).await? {
                awc::ws::Frame::Close(reason) => return reason.map(|r| u16::from(r.code)),
                _ => continue,
            }
        }
    }
}
