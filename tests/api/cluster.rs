//! Many nodes: three `roomcast serve` processes on one PostgreSQL database, one NATS server
//! and one storage directory. Danmaku, online counts, retractions, bans and disabled
//! accounts cross nodes; a live source is pulled by one node and plays on every node; when
//! a node dies its viewers' counts drop out and its source moves; NATS can restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, ws_connect_at, PgDatabase, WsClient};
use crate::live_sources::{ffmpeg_listener, free_port};
use crate::process::{self, ServerProcess};

/// PostgreSQL and NATS from the environment; `None` (reported) when the suite was not asked
/// to use them. CI always sets both.
pub(crate) fn services() -> Option<(String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("ROOMCAST_TEST_DATABASE_URL"),
        var("ROOMCAST_TEST_NATS_URL"),
    ) {
        (Some(db), Some(nats)) => Some((db, nats)),
        _ => {
            eprintln!(
                "ROOMCAST_TEST_DATABASE_URL and ROOMCAST_TEST_NATS_URL are not both set: \
                 multi-node test not run"
            );
            None
        }
    }
}

/// A node of a cluster.
pub(crate) type Node = ServerProcess;

/// Nodes sharing a database, a storage directory and a NATS subject prefix of their own
/// (so tests running side by side on one NATS server do not hear each other).
pub(crate) struct Cluster {
    dir: Arc<tempfile::TempDir>,
    env: Vec<(String, String)>,
    _pg: PgDatabase,
}

impl Cluster {
    pub(crate) fn new(pg_server: &str, nats_url: &str) -> Self {
        let (pg, db_url) = PgDatabase::create(pg_server);
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let storage = dir.path().join("data").to_string_lossy().into_owned();
        let env = [
            ("ROOMCAST__DATABASE__URL", db_url.as_str()),
            ("ROOMCAST__DATABASE__POOL_SIZE", "4"),
            ("ROOMCAST__STORAGE__DIR", &storage),
            ("ROOMCAST__BUS__KIND", "nats"),
            ("ROOMCAST__BUS__NATS_URL", nats_url),
            ("ROOMCAST__BUS__PREFIX", &prefix),
            ("ROOMCAST__INGEST__ALLOW_FILES", "false"),
            ("ROOMCAST__INGEST__LEASE_SECS", "3"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec();
        Self { dir, env, _pg: pg }
    }

    /// `roomcast` with this cluster's settings (for runs that are expected to fail).
    fn command(&self) -> Command {
        process::command(self.dir.path(), &self.env)
    }

    /// A setting for every node this cluster starts (after the defaults above).
    fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub(crate) fn start(&self, name: &'static str) -> Node {
        self.start_with(name, &[])
    }

    /// A node with `env` on top of the cluster's settings.
    pub(crate) fn start_with(&self, name: &'static str, env: &[(&str, &str)]) -> Node {
        let mut all = self.env.clone();
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ServerProcess::start_in(name, Arc::clone(&self.dir), all)
    }

    pub(crate) fn add_user(&self, name: &str, admin: bool) {
        process::add_user(self.dir.path(), &self.env, name, admin);
    }
}

pub(crate) async fn call(
    node: &Node,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    node.call(method, path, token, body).await
}

pub(crate) async fn login(node: &Node, name: &str) -> String {
    node.login(name).await
}

/// The lease rounds `node` has completed.
async fn lease_rounds(node: &Node) -> u64 {
    let metrics = node.get("/metrics", &[]).await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("roomcast_ingest_lease_rounds_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until every node in `nodes` has completed `n` more lease rounds: whatever a round
/// could change has had its chance.
async fn lease_rounds_pass<N: std::borrow::Borrow<Node>>(nodes: &[N], n: u64) {
    for node in nodes {
        let node = node.borrow();
        let start = lease_rounds(node).await;
        let what = format!("{} completes {n} more lease rounds", node.name);
        eventually(Duration::from_secs(15), &what, || async {
            lease_rounds(node).await >= start + n
        })
        .await;
    }
}

/// Polls `/readyz` until it answers 200; returns its body.
async fn wait_ready(node: &Node) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = call(node, Method::GET, "/readyz", None, None).await;
        if status == 200 {
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "{} never got ready: {body}",
            node.name
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens a room through `node`'s API; returns its id.
pub(crate) async fn open_room(node: &Node, token: &str, body: Value) -> String {
    let (status, room) = call(node, Method::POST, "/api/rooms", Some(token), Some(body)).await;
    assert_eq!(status, 201, "{room}");
    room["id"].as_str().unwrap().to_string()
}

pub(crate) async fn node_id(node: &Node) -> String {
    let (_, ready) = call(node, Method::GET, "/readyz", None, None).await;
    ready["node"].as_str().unwrap().to_string()
}

/// A danmaku viewer that checks every batch's `seq` follows the one before.
struct Viewer {
    ws: WsClient,
    seq: Option<u64>,
    online: u64,
}

impl Viewer {
    async fn join(node: &Node, room: &str, token: Option<&str>) -> Self {
        Self::join_at(node, &format!("/ws/rooms/{room}"), token).await
    }

    /// A viewer that gets compressed `hello` and `batch` frames (inflated as they come).
    async fn join_compressed(node: &Node, room: &str, token: Option<&str>) -> Self {
        Self::join_at(node, &format!("/ws/rooms/{room}?compress=deflate"), token).await
    }

    async fn join_at(node: &Node, path: &str, token: Option<&str>) -> Self {
        let mut ws = ws_connect_at(&node.address, path, token, None)
            .await
            .expect("the socket opens");
        let hello = ws.next_json().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        Self {
            ws,
            seq: None,
            online: hello["online"].as_u64().unwrap(),
        }
    }

    /// The next frame within `wait`, with batch sequence and online count tracked.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        let frame = self.ws.try_next_json(wait).await?;
        match frame["type"].as_str() {
            Some("batch") => {
                let seq = frame["seq"].as_u64().unwrap();
                if let Some(before) = self.seq {
                    assert_eq!(seq, before + 1, "batch seq has a gap: {frame}");
                }
                self.seq = Some(seq);
            }
            Some("online") => self.online = frame["count"].as_u64().unwrap(),
            _ => {}
        }
        Some(frame)
    }

    /// Reads until the online count is `n` (within 10 s).
    async fn until_online(&mut self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.online != n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                self.next(left).await.is_some(),
                "online stayed {} instead of {n}",
                self.online
            );
        }
    }

    /// Reads frames (for up to 5 s) until `pick` finds what it looks for in one.
    async fn until(&mut self, what: &str, pick: impl Fn(&Value) -> Option<Value>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self
                .next(left)
                .await
                .unwrap_or_else(|| panic!("{what} did not arrive"));
            if let Some(found) = pick(&frame) {
                return found;
            }
        }
    }

    /// Reads until a batch carries `text`; returns the item.
    async fn until_message(&mut self, text: &str) -> Value {
        self.until(&format!("{text:?}"), |frame| {
            let items = frame["items"].as_array()?;
            items.iter().find(|i| i["text"] == text).cloned()
        })
        .await
    }

    /// Reads until the viewer's own `text` comes back in a batch, or an error refuses it;
    /// returns that frame.
    async fn fate_of(&mut self, text: &str) -> Value {
        self.until(&format!("the fate of {text:?}"), |f| {
            let mine = f["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|m| m["text"] == text));
            (f["type"] == "error" || mine).then(|| f.clone())
        })
        .await
    }

    /// Reads until a frame of `kind` arrives.
    async fn until_type(&mut self, kind: &str) -> Value {
        self.until(&format!("a {kind} frame"), |frame| {
            (frame["type"] == kind).then(|| frame.clone())
        })
        .await
    }

    async fn send(&mut self, text: &str) {
        self.ws
            .send_json(json!({"type": "send", "text": text}))
            .await;
    }
}

/// Asserts `node` answers `token` with 401 within 4 s of `since` (its session cache alone
/// would trust it for 10 s).
async fn refused_within_4s(node: &Node, token: &str, since: Instant, what: &str) {
    loop {
        let (status, _) = call(node, Method::GET, "/api/users/me", Some(token), None).await;
        if status == 401 {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(4),
            "{} still accepts {what}",
            node.name
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn online_via_api(node: &Node, room: &str) -> u64 {
    let (status, body) = call(node, Method::GET, &format!("/api/rooms/{room}"), None, None).await;
    assert_eq!(status, 200, "{body}");
    body["online"].as_u64().unwrap()
}

#[actix_web::test]
async fn danmaku_counts_and_moderation_cross_nodes_and_a_dead_node_drops_out() {
    let Some((pg, nats)) = services() else { return };
    let cluster = Cluster::new(&pg, &nats);
    let a = cluster.start("a");
    let mut b = cluster.start("b");
    let c = cluster.start("c");
    cluster.add_user("root", true);
    for name in ["alice", "carol", "mallory"] {
        cluster.add_user(name, false);
    }
    let alice = login(&a, "alice").await;
    let root = login(&b, "root").await;
    let carol = login(&c, "carol").await;
    let mallory = login(&c, "mallory").await;
    let body = json!({"title": "Across"});
    let room = open_room(&a, &alice, body).await;

    let mut on_a = Viewer::join(&a, &room, Some(&alice)).await;
    let mut on_b = Viewer::join(&b, &room, None).await;
    let mut on_c = Viewer::join(&c, &room, Some(&carol)).await;
    let mut mallory_on_c = Viewer::join(&c, &room, Some(&mallory)).await;
    for viewer in [&mut on_a, &mut on_b, &mut on_c] {
        viewer.until_online(4).await;
    }
    for node in [&a, &b, &c] {
        assert_eq!(online_via_api(node, &room).await, 4, "node {}", node.name);
    }

    // A message sent on A reaches B and C in their next batch, and the other way round.
    on_a.send("hello from a").await;
    let item = on_b.until_message("hello from a").await;
    assert_eq!(item["user"], "alice");
    on_c.until_message("hello from a").await;
    on_a.until_message("hello from a").await;
    on_c.send("hello from c").await;
    on_a.until_message("hello from c").await;
    on_b.until_message("hello from c").await;

    // A retraction issued on B (a node where neither author nor these viewers are).
    let path = format!("/api/rooms/{room}/danmaku/{}", item["id"].as_str().unwrap());
    let (status, _) = call(&b, Method::DELETE, &path, Some(&root), None).await;
    assert_eq!(status, 204);
    for viewer in [&mut on_a, &mut on_c] {
        let retract = viewer.until_type("retract").await;
        assert_eq!(retract["ids"], json!([item["id"]]));
    }

    // A ban issued on B mutes carol on C: she is told, and her next message is refused.
    let ban = json!({"user": "carol", "seconds": 60});
    let (status, res) = call(
        &b,
        Method::POST,
        &format!("/api/rooms/{room}/bans"),
        Some(&root),
        Some(ban),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    let told = on_c.until_type("error").await;
    assert_eq!(told["code"], "muted", "{told}");
    on_c.send("still here?").await;
    let refused = on_c.until_type("error").await;
    assert_eq!(refused["code"], "muted", "{refused}");

    // A logout on B ends the session on A at once, though A had just cached it.
    let second = login(&c, "root").await;
    let (status, _) = call(&a, Method::GET, "/api/users/me", Some(&second), None).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &b,
        Method::DELETE,
        "/api/sessions/current",
        Some(&second),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let logged_out = Instant::now();
    refused_within_4s(&a, &second, logged_out, "a session logged out on B").await;

    // Disabling mallory on B closes her socket on C and ends her session on A at once, not
    // when A's session cache would have looked again (10 s).
    let (status, _) = call(&a, Method::GET, "/api/users/me", Some(&mallory), None).await;
    assert_eq!(status, 200, "mallory's session is now cached on A");
    let (_, me) = call(&c, Method::GET, "/api/users/me", Some(&mallory), None).await;
    let path = format!("/api/admin/users/{}/disable", me["id"].as_str().unwrap());
    let (status, _) = call(&b, Method::POST, &path, Some(&root), None).await;
    assert_eq!(status, 204);
    let disabled_at = Instant::now();
    assert_eq!(
        mallory_on_c.ws.closed_with(Duration::from_secs(5)).await,
        Some(1008)
    );
    refused_within_4s(&a, &mallory, disabled_at, "a disabled user's session").await;
    for viewer in [&mut on_a, &mut on_b, &mut on_c] {
        viewer.until_online(3).await;
    }

    // B dies: A and C lose nothing, and B's viewer drops out of their counts.
    b.crash();
    on_a.until_online(2).await;
    on_c.until_online(2).await;
    for node in [&a, &c] {
        assert_eq!(online_via_api(node, &room).await, 2, "node {}", node.name);
    }
    for n in 0..3 {
        let text = format!("after b died {n}");
        on_a.send(&text).await;
        on_c.until_message(&text).await;
        on_a.until_message(&text).await;
    }
}

/// Reads binary frames of the video socket until `want` is satisfied (pings answered).
pub(crate) async fn video_frames(
    ws: &mut WsClient,
    wait: Duration,
    mut want: impl FnMut(&[u8]) -> bool,
) {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.next_frame(left).await {
            Some(awc::ws::Frame::Binary(b)) => {
                if want(&b) {
                    return;
                }
            }
            Some(awc::ws::Frame::Ping(p)) => ws.send(awc::ws::Message::Pong(p)).await,
            Some(awc::ws::Frame::Close(r)) => panic!("the video socket closed: {r:?}"),
            Some(_) => {}
            None => panic!("the video stopped"),
        }
    }
}

/// Opens the room's video socket on `node` and reads its first `n` frames; returns the
/// socket and each frame's first box type (`ftyp` for the init segment, `moof` after).
pub(crate) async fn watch(
    node: &Node,
    room: &str,
    n: usize,
    wait: Duration,
) -> (WsClient, Vec<Vec<u8>>) {
    let path = format!("/ws/rooms/{room}/video");
    let mut video = ws_connect_at(&node.address, &path, None, None)
        .await
        .expect("the video socket opens");
    let mut seen = Vec::new();
    video_frames(&mut video, wait, |f| {
        seen.push(f[4..8].to_vec());
        seen.len() >= n
    })
    .await;
    (video, seen)
}

/// Reads until a new init segment arrives followed by two fragments (a new stream).
pub(crate) async fn until_new_stream(video: &mut WsClient, wait: Duration) {
    let mut after = Vec::new();
    video_frames(video, wait, |f| {
        let kind = f[4..8].to_vec();
        if kind == b"ftyp" {
            after.clear();
        }
        after.push(kind);
        after.first().is_some_and(|k| k == b"ftyp") && after.len() >= 3
    })
    .await;
}

/// Polls the room on `node` until some node reports the source running; returns the live
/// object.
async fn running_on(node: &Node, room: &str, not: Option<&str>) -> Value {
    let what = format!("the source running elsewhere than {not:?}");
    live_until(node, room, &what, |l| {
        l["state"] == "running" && l["node"].as_str() != not
    })
    .await
}

#[actix_web::test]
async fn a_source_pulled_by_one_node_plays_on_every_node_and_moves_when_it_dies() {
    let Some((pg, nats)) = services() else { return };
    let source = format!("rtmp://127.0.0.1:{}/live/cam", free_port());
    let _camera = ffmpeg_listener(&source, "flv", "libx264");
    let cluster = Cluster::new(&pg, &nats);
    let mut nodes = vec![cluster.start("a"), cluster.start("b"), cluster.start("c")];
    cluster.add_user("root", true);
    let root = login(&nodes[0], "root").await;
    let body = json!({"title": "Gate", "source_url": source});
    let room = open_room(&nodes[0], &root, body).await;

    // Every node names the same puller.
    let holder = running_on(&nodes[0], &room, None).await["node"]
        .as_str()
        .unwrap()
        .to_string();
    for node in &nodes {
        assert_eq!(running_on(node, &room, None).await["node"], holder.as_str());
    }
    let mut ids = Vec::new();
    for node in &nodes {
        ids.push(node_id(node).await);
    }
    let holder_at = ids
        .iter()
        .position(|id| *id == holder)
        .expect("the holder is one of ours");
    // Of the other two, the first watches; the second will stop cleanly.
    let mut holder_node = nodes.remove(holder_at);
    let mut bystander = nodes.remove(1);
    let follower = &nodes[0];

    // The follower's video socket: init segment first, then fragments.
    let (mut video, seen) = watch(follower, &room, 4, Duration::from_secs(10)).await;
    assert_eq!(seen[0], b"ftyp", "the init segment comes first");
    assert!(seen[1..].iter().all(|b| b == b"moof"), "then fragments");

    // Its HLS: the shared storage directory holds the puller's segments.
    let before = hls_segments(follower, &room).await;
    assert!(!before.is_empty(), "the follower serves the playlist");

    // A node that does not pull the source stops cleanly (SIGTERM): letting go of its own
    // pipelines must not stop the source for everyone else.
    bystander.terminate();
    let mut more = 0;
    video_frames(&mut video, Duration::from_secs(10), |_| {
        more += 1;
        more >= 15
    })
    .await;
    let live = running_on(follower, &room, None).await;
    assert_eq!(live["node"], holder.as_str());

    // An admin on the puller switches the room to another camera: every node replaces its
    // pipeline (the puller at once, the follower at its next lease round), the puller pulls
    // the new source, and it keeps running: a replaced pipeline lets go on its own node
    // only, it does not stop the source for everyone.
    let second = format!("rtmp://127.0.0.1:{}/live/cam2", free_port());
    let _second_camera = ffmpeg_listener(&second, "flv", "libx264");
    let patch = json!({ "source_url": second });
    let path = format!("/api/rooms/{room}");
    let (status, body) = call(&holder_node, Method::PATCH, &path, Some(&root), Some(patch)).await;
    assert_eq!(status, 200, "{body}");
    // What a node logs of a source is its origin (scheme, host and port).
    let origin = second.trim_end_matches("/live/cam2");
    let replaced = format!("room {room}: source {origin}");
    follower
        .until_logged(&replaced, Duration::from_secs(15))
        .await;
    let (mut video, seen) = watch(follower, &room, 3, Duration::from_secs(15)).await;
    assert_eq!(seen[0], b"ftyp", "the new source's init segment first");
    let live = running_on(follower, &room, None).await;
    assert_eq!(live["node"], holder.as_str(), "the puller kept the source");
    assert_eq!(live["state"], "running", "{live}");

    // The puller dies: another node takes the source, and the follower's viewer gets a new
    // init segment and fragments without reconnecting.
    holder_node.crash();
    let taken = Instant::now();
    let live = running_on(follower, &room, Some(&holder)).await;
    let new_holder = live["node"].as_str().unwrap();
    assert!(ids.iter().any(|id| id == new_holder), "{live}");
    until_new_stream(&mut video, Duration::from_secs(30)).await;
    eprintln!(
        "playback resumed {:?} after the puller died",
        taken.elapsed()
    );

    // HLS on the follower carries on with the new puller's segments, numbered after the old
    // ones (players continue the sequence instead of seeing it start again).
    let last_before = *before.iter().max().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = hls_segments(follower, &room).await;
        if now.first().is_some_and(|first| *first > last_before) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "HLS did not move on from {before:?}: {now:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The segment numbers of a room's HLS playlist on `node`, each fetched (200, not empty);
/// empty when there is no playlist.
async fn hls_segments(node: &Node, room: &str) -> Vec<u64> {
    let client = awc::Client::new();
    let mut res = client
        .get(format!("{}/hls/{room}/index.m3u8", node.address))
        .send()
        .await
        .unwrap();
    if res.status() != 200 {
        return Vec::new();
    }
    let playlist = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    let mut numbers = Vec::new();
    for name in playlist.lines().filter(|l| l.ends_with(".ts")) {
        let mut seg = client
            .get(format!("{}/hls/{room}/{name}", node.address))
            .send()
            .await
            .unwrap();
        if seg.status() != 200 {
            // Rolled off between the playlist and the request.
            continue;
        }
        assert!(!seg.body().limit(64 << 20).await.unwrap().is_empty());
        numbers.push(
            name.trim_start_matches("seg")
                .trim_end_matches(".ts")
                .parse()
                .unwrap(),
        );
    }
    numbers
}

/// A NATS server of the test's own on `port`, so it can be stopped and started again.
struct NatsServer(Child);

impl NatsServer {
    fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// The same with more options (TLS).
    fn start_with(port: u16, options: &[&str]) -> Self {
        let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (apt-get install nats-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn bus_state(node: &Node) -> String {
    let (_, ready) = call(node, Method::GET, "/readyz", None, None).await;
    ready["bus"].as_str().unwrap_or_default().to_string()
}

/// Polls `/readyz` until the node's bus is in `state` (within `wait`).
async fn until_bus(node: &Node, state: &str, wait: Duration) {
    let deadline = Instant::now() + wait;
    while bus_state(node).await != state {
        assert!(
            Instant::now() < deadline,
            "node {}'s bus never became {state}",
            node.name
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// NATS stops while three nodes serve one room, and a fourth node starts while it is
/// down: every node keeps serving its own viewers, messages sent meanwhile are never
/// delivered late as a burst (they are dropped and counted), and when NATS is back every
/// node reconnects by itself and traffic crosses again.
#[actix_web::test]
async fn nodes_reconnect_after_nats_restarts_and_traffic_resumes() {
    let Some((pg, _)) = services() else { return };
    let port = free_port();
    let nats = NatsServer::start(port);
    let cluster = Cluster::new(&pg, &format!("nats://127.0.0.1:{port}"));
    let a = cluster.start("a");
    let b = cluster.start("b");
    let c = cluster.start("c");
    cluster.add_user("alice", false);
    let alice = login(&a, "alice").await;
    let room = open_room(&a, &alice, json!({"title": "R"})).await;
    let mut on_a = Viewer::join(&a, &room, Some(&alice)).await;
    let mut on_b = Viewer::join(&b, &room, None).await;
    let mut on_c = Viewer::join(&c, &room, None).await;
    for v in [&mut on_a, &mut on_b, &mut on_c] {
        v.until_online(3).await;
    }
    on_a.send("before").await;
    on_c.until_message("before").await;

    drop(nats);
    for node in [&a, &b, &c] {
        until_bus(node, "disconnected", Duration::from_secs(10)).await;
    }
    // A node that starts now serves its own viewers and reconnects later.
    let d = cluster.start("d");
    assert_eq!(bus_state(&d).await, "disconnected");
    let mut on_d = Viewer::join(&d, &room, None).await;
    // Messages sent during the outage reach the sender's own node only.
    for i in 0..2 {
        on_a.send(&format!("during {i}")).await;
        on_a.until_message(&format!("during {i}")).await;
    }
    // Without NATS each node counts only its own viewers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while online_via_api(&a, &room).await != 1 {
        assert!(Instant::now() < deadline, "a still counts other nodes");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    let _nats = NatsServer::start(port);
    for node in [&a, &b, &c, &d] {
        until_bus(node, "connected", Duration::from_secs(15)).await;
    }
    // Subscriptions come back with the connection: messages and counts cross again, and
    // nothing from the outage arrives before the first new message.
    on_a.send("after").await;
    for viewer in [&mut on_b, &mut on_c, &mut on_d] {
        let seen = viewer
            .until("the first message after the outage", |frame| {
                let items = frame["items"].as_array()?;
                let texts: Vec<String> = items
                    .iter()
                    .map(|i| i["text"].as_str().unwrap_or_default().to_string())
                    .collect();
                texts.contains(&"after".to_string()).then(|| json!(texts))
            })
            .await;
        assert_eq!(seen, json!(["after"]), "no stale burst");
    }
    let metrics = reqwest_text(&a, "/metrics").await;
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("roomcast_bus_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(
        dropped >= 2.0,
        "the outage's messages were counted: {dropped}"
    );
    for node in [&a, &b, &c, &d] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while online_via_api(node, &room).await != 4 {
            assert!(
                Instant::now() < deadline,
                "counts on {} did not recover",
                node.name
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A page's text from `node`.
async fn reqwest_text(node: &Node, path: &str) -> String {
    let mut res = awc::Client::default()
        .get(format!("{}{path}", node.address))
        .send()
        .await
        .unwrap();
    String::from_utf8_lossy(&res.body().limit(8 << 20).await.unwrap()).into_owned()
}

/// The room's `live` object as `node` shows it now.
async fn live_now(node: &Node, room: &str) -> Value {
    let (_, body) = call(node, Method::GET, &format!("/api/rooms/{room}"), None, None).await;
    body["live"].clone()
}

/// Polls the room on `node` until its `live` satisfies `want`; returns it.
pub(crate) async fn live_until(
    node: &Node,
    room: &str,
    what: &str,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = call(node, Method::GET, &format!("/api/rooms/{room}"), None, None).await;
        if want(&body["live"]) {
            return body["live"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{} never showed {what}: {}",
            node.name,
            body["live"]
        );
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
}

#[actix_web::test]
async fn an_on_demand_source_wakes_for_a_viewer_on_another_node_and_any_node_controls_it() {
    let Some((pg, nats)) = services() else { return };
    let source = format!("rtmp://127.0.0.1:{}/live/door", free_port());
    let _camera = ffmpeg_listener(&source, "flv", "libx264");
    let cluster = Cluster::new(&pg, &nats);
    let nodes = [cluster.start("a"), cluster.start("b")];
    cluster.add_user("root", true);
    let root = login(&nodes[0], "root").await;
    let body = json!({"title": "Door", "source_url": source, "on_demand": true});
    let room = open_room(&nodes[0], &root, body).await;

    // Some node holds it, idle: nobody watches.
    let live = live_until(&nodes[1], &room, "a stopped source with a puller", |l| {
        l["node"].is_string() && l["state"] == "stopped"
    })
    .await;
    let holder = live["node"].as_str().unwrap().to_string();
    let follower = if node_id(&nodes[0]).await == holder {
        &nodes[1]
    } else {
        &nodes[0]
    };

    // A video viewer on the other node wakes it; the picture reaches that viewer.
    let (mut video, seen) = watch(follower, &room, 3, Duration::from_secs(20)).await;
    assert_eq!(seen[0], b"ftyp");
    live_until(follower, &room, "running", |l| l["state"] == "running").await;

    // An admin on the follower stops it: the puller stops though a viewer still watches...
    let control = |action: &'static str| {
        let (follower, root, room) = (follower, root.clone(), room.clone());
        async move {
            let path = format!("/api/admin/rooms/{room}/ingest/{action}");
            let (status, body) = call(follower, Method::POST, &path, Some(&root), None).await;
            assert_eq!(status, 202, "{body}");
        }
    };
    control("stop").await;
    live_until(follower, &room, "stopped", |l| l["state"] == "stopped").await;
    lease_rounds_pass(&nodes, 2).await;
    let live = live_now(follower, &room).await;
    assert_eq!(
        live["state"], "stopped",
        "the watching viewer did not undo the stop"
    );

    // ...and starts it again: the viewer gets a new stream without reconnecting.
    control("start").await;
    until_new_stream(&mut video, Duration::from_secs(20)).await;

    // The last viewer leaves: the source stops after the linger (10 s).
    drop(video);
    live_until(follower, &room, "stopped after the viewer left", |l| {
        l["state"] == "stopped"
    })
    .await;
}

#[actix_web::test]
async fn a_node_that_joins_takes_its_share_and_an_admins_stop_moves_with_the_source() {
    let Some((pg, nats)) = services() else { return };
    let first = format!("rtmp://127.0.0.1:{}/live/east", free_port());
    let second = format!("rtmp://127.0.0.1:{}/live/west", free_port());
    let _cameras = [
        ffmpeg_listener(&first, "flv", "libx264"),
        ffmpeg_listener(&second, "flv", "libx264"),
    ];
    let cluster = Cluster::new(&pg, &nats);
    let a = cluster.start("a");
    cluster.add_user("root", true);
    let root = login(&a, "root").await;
    let mut rooms = Vec::new();
    for (title, source) in [("East", &first), ("West", &second)] {
        let body = json!({"title": title, "source_url": source});
        rooms.push(open_room(&a, &root, body).await);
    }
    let (watched, stopped) = (&rooms[0], &rooms[1]);

    // Alone, A pulls both. A viewer watches the first; an admin stops the second.
    let id_a = node_id(&a).await;
    for room in &rooms {
        let live = running_on(&a, room, None).await;
        assert_eq!(live["node"], id_a.as_str(), "{live}");
    }
    let (mut video, _) = watch(&a, watched, 2, Duration::from_secs(15)).await;
    let path = format!("/api/admin/rooms/{stopped}/ingest/stop");
    let (status, body) = call(&a, Method::POST, &path, Some(&root), None).await;
    assert_eq!(status, 202, "{body}");
    live_until(&a, stopped, "stopped", |l| l["state"] == "stopped").await;

    // B joins: A gives one source back, the one without viewers, and B takes it. The
    // admin's stop goes with it: B does not start it.
    let b = cluster.start("b");
    let joined = Instant::now();
    let id_b = node_id(&b).await;
    // B reports ready only once it knows the sources (its first lease round): from then on
    // its video sockets play, where before they would answer 404.
    let ready = wait_ready(&b).await;
    assert_eq!(ready["sources"], "ok", "{ready}");
    let (probe, seen) = watch(&b, watched, 2, Duration::from_secs(15)).await;
    assert_eq!(seen[0], b"ftyp");
    drop(probe);
    let moved = live_until(&a, stopped, "the stopped source on B", |l| {
        l["node"] == id_b.as_str()
    })
    .await;
    assert_eq!(moved["state"], "stopped", "{moved}");
    eprintln!("B pulled its share {:?} after it started", joined.elapsed());
    lease_rounds_pass(&[&a, &b], 2).await;
    let still = live_until(&b, stopped, "the source on B", |l| {
        l["node"] == id_b.as_str()
    })
    .await;
    assert_eq!(still["state"], "stopped", "B kept to the stop: {still}");

    // The watched source stayed where it was, and its viewer's stream went on: fragments
    // only, no new init segment.
    let live = running_on(&b, watched, None).await;
    assert_eq!(live["node"], id_a.as_str(), "{live}");
    let mut fragments = 0;
    video_frames(&mut video, Duration::from_secs(10), |f| {
        assert_eq!(&f[4..8], b"moof", "the watched stream was not restarted");
        fragments += 1;
        fragments >= 10
    })
    .await;

    // An admin on A starts it again: B pulls it, and A's viewers see it.
    let path = format!("/api/admin/rooms/{stopped}/ingest/start");
    let (status, body) = call(&a, Method::POST, &path, Some(&root), None).await;
    assert_eq!(status, 202, "{body}");
    let live = running_on(&a, stopped, None).await;
    assert_eq!(live["node"], id_b.as_str(), "{live}");
    let (_, seen) = watch(&a, stopped, 3, Duration::from_secs(15)).await;
    assert_eq!(seen[0], b"ftyp");
}

#[actix_web::test]
async fn a_users_sockets_on_two_nodes_share_one_rate_limit() {
    let Some((pg, nats)) = services() else { return };
    // A long window, so the test does not race it on a busy machine.
    let cluster = Cluster::new(&pg, &nats).with_env("ROOMCAST__DANMAKU__RATE", "3/30s");
    let nodes = [cluster.start("a"), cluster.start("b")];
    cluster.add_user("carol", false);
    cluster.add_user("other", false);
    let token = login(&nodes[0], "carol").await;
    let other = login(&nodes[0], "other").await;
    let body = json!({"title": "Rate"});
    let room = open_room(&nodes[0], &token, body).await;
    let mut on_a = Viewer::join(&nodes[0], &room, Some(&token)).await;
    let mut on_b = Viewer::join(&nodes[1], &room, Some(&token)).await;
    on_b.until_online(2).await;

    // Three messages through A fill the user's window; B hears them...
    for i in 0..3 {
        on_a.send(&format!("from a {i}")).await;
    }
    on_b.until_message("from a 2").await;
    // ...so a fourth through B is refused, though B itself accepted none.
    on_b.send("from b").await;
    let err = on_b.until_type("error").await;
    assert_eq!(err["code"], "rate_limited", "{err}");
    let wait = err["retry_after_ms"].as_u64().unwrap();
    assert!((1..=30_000).contains(&wait), "{wait}");
    // Another user on B is not affected.
    let mut neighbour = Viewer::join(&nodes[1], &room, Some(&other)).await;
    neighbour.send("from the neighbour").await;
    on_a.until_message("from the neighbour").await;
}

#[actix_web::test]
async fn filters_slow_mode_and_unbans_reach_every_node_with_compressed_viewers_on_both() {
    let Some((pg, nats)) = services() else { return };
    let cluster = Cluster::new(&pg, &nats).with_env("ROOMCAST__DANMAKU__RATE", "1000/1s");
    let (a, b) = (cluster.start("a"), cluster.start("b"));
    cluster.add_user("root", true);
    cluster.add_user("alice", false);
    cluster.add_user("carol", false);
    let root = login(&a, "root").await;
    let alice = login(&a, "alice").await;
    let carol = login(&b, "carol").await;
    let room = open_room(&a, &alice, json!({"title": "Rules"})).await;
    let mut on_a = Viewer::join_compressed(&a, &room, Some(&alice)).await;
    let mut on_b = Viewer::join_compressed(&b, &room, Some(&carol)).await;
    on_a.until_online(2).await;

    // Compressed viewers on both nodes get each other's messages.
    on_b.send("from b").await;
    on_a.until_message("from b").await;
    on_a.send("from a").await;
    on_b.until_message("from a").await;

    // Words set through A hold on B: the room's and the site's.
    let put = |path: String, token: String, words: Value| {
        let node = &a;
        async move {
            let (status, body) = call(
                node,
                Method::PUT,
                &path,
                Some(&token),
                Some(json!({"words": words})),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    };
    put(
        format!("/api/rooms/{room}/filters"),
        alice.clone(),
        json!(["广告"]),
    )
    .await;
    put(
        "/api/admin/filters".into(),
        root.clone(),
        json!(["ＳＰＡＭ"]),
    )
    .await;
    for (probe, what) in [("看广告", "the room's word"), ("Spam", "the site's word")] {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut n = 0;
        loop {
            n += 1;
            let text = format!("{probe} {n}");
            on_b.send(&text).await;
            let frame = on_b.fate_of(&text).await;
            if frame["code"] == "filtered" {
                break;
            }
            assert!(Instant::now() < deadline, "B never refused {what}");
        }
    }
    on_b.send("clean after filters").await;
    let item = on_a.until_message("clean after filters").await;
    assert_eq!(item["user"], "carol");

    // Slow mode set through A: B's viewer is told, and carol waits there.
    let (status, body) = call(
        &a,
        Method::PATCH,
        &format!("/api/rooms/{room}"),
        Some(&alice),
        Some(json!({"slow_mode_secs": 60})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(on_b.until_type("rules").await["slow_mode_secs"], 60);
    on_b.send("slow one").await;
    on_a.until_message("slow one").await;
    on_b.send("slow two").await;
    let err = on_b.until_type("error").await;
    assert_eq!(err["code"], "rate_limited", "{err}");
    assert!(err["retry_after_ms"].as_u64().unwrap() > 50_000, "{err}");
    let (status, _) = call(
        &a,
        Method::PATCH,
        &format!("/api/rooms/{room}"),
        Some(&alice),
        Some(json!({"slow_mode_secs": 0})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(on_b.until_type("rules").await["slow_mode_secs"], 0);

    // A ban through B and its lifting through A both reach carol on B.
    let ban = json!({"user": "carol", "seconds": 600});
    let (status, _) = call(
        &b,
        Method::POST,
        &format!("/api/rooms/{room}/bans"),
        Some(&alice),
        Some(ban),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(on_b.until_type("error").await["code"], "muted");
    let (_, bans) = call(
        &a,
        Method::GET,
        &format!("/api/rooms/{room}/bans"),
        Some(&alice),
        None,
    )
    .await;
    let carol_id = bans["bans"][0]["user_id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &a,
        Method::DELETE,
        &format!("/api/rooms/{room}/bans/{carol_id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    loop {
        n += 1;
        let text = format!("am I back {n}");
        on_b.send(&text).await;
        let frame = on_b.fate_of(&text).await;
        if frame["type"] == "batch" {
            on_a.until_message(&text).await;
            break;
        }
        assert_eq!(frame["code"], "muted");
        assert!(Instant::now() < deadline, "B never lifted the ban");
    }
}

/// Makes a CA, a server certificate for 127.0.0.1 and a client certificate with openssl in
/// `dir`; returns the paths of ca.pem, server.pem/key and client.pem/key.
fn make_certificates(dir: &std::path::Path) -> [String; 5] {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca = [
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem"],
    ]
    .concat();
    openssl(&[&ca[..], &["-days", "1", "-subj", "/CN=Roomcast test CA"]].concat());
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        let req = [&["req"][..], &ec, &["-keyout", &key, "-out", &csr]].concat();
        openssl(&[&req[..], &["-subj", &format!("/CN=roomcast {name}")]].concat());
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
    [
        "ca.pem",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
    ]
    .map(|f| dir.join(f).to_string_lossy().into_owned())
}

/// Starts `serve` and returns its first log line containing `needle` (the server must be
/// listening by then); then kills it.
fn serve_logs_until(mut cmd: Command, needle: &str) -> String {
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut found, mut listening) = (None, false);
    for line in lines.map_while(Result::ok) {
        eprintln!("[serve] {line}");
        listening |= line.contains("listening on");
        if line.contains(needle) {
            found = Some(line);
            break;
        }
    }
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening && running, "serve is listening and running");
    found.unwrap_or_else(|| panic!("no log line with {needle:?}"))
}

/// Runs `roomcast serve` expecting it to fail at start; returns what it printed.
fn serve_fails(mut cmd: Command) -> String {
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "serve should have failed");
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            eprintln!("serve failed as expected: {}", err.trim_end());
            return err;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started though it should have failed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[actix_web::test]
async fn nodes_reach_nats_over_tls_with_client_certificates_and_refuse_a_server_they_cannot_verify()
{
    let Some((pg, _)) = services() else { return };
    let certs = tempfile::tempdir().unwrap();
    let [ca, server_cert, server_key, client_cert, client_key] = make_certificates(certs.path());
    // A NATS server that speaks only TLS and verifies its clients' certificates.
    let port = free_port();
    let _nats = NatsServer::start_with(
        port,
        &[
            "--tlsverify",
            "--tlscert",
            &server_cert,
            "--tlskey",
            &server_key,
            "--tlscacert",
            &ca,
        ],
    );
    let cluster = Cluster::new(&pg, &format!("tls://127.0.0.1:{port}"))
        .with_env("ROOMCAST__BUS__NATS_TLS_CA", &ca)
        .with_env("ROOMCAST__BUS__NATS_TLS_CERT", &client_cert)
        .with_env("ROOMCAST__BUS__NATS_TLS_KEY", &client_key);

    // Without a client certificate the server turns the node away; without the CA the
    // node does not trust the server. Either way it stops at start, saying why.
    let mut cmd = cluster.command();
    cmd.env_remove("ROOMCAST__BUS__NATS_TLS_CERT")
        .env_remove("ROOMCAST__BUS__NATS_TLS_KEY");
    let err = serve_fails(cmd);
    assert!(
        err.contains("cannot reach NATS at tls://127.0.0.1"),
        "{err}"
    );
    assert!(
        err.contains("BadCertificate"),
        "the server refused the node: {err}"
    );
    let mut cmd = cluster.command();
    cmd.env_remove("ROOMCAST__BUS__NATS_TLS_CA");
    let err = serve_fails(cmd);
    assert!(err.contains("cannot reach NATS"), "{err}");
    assert!(
        err.contains("UnknownIssuer"),
        "the node refused the server: {err}"
    );
    // An unreachable server does not stop the node (it reconnects in the background); the
    // warning names the server without the password in its URL.
    let mut cmd = cluster.command();
    let closed = format!("nats://roomcast:hunter2@127.0.0.1:{}", free_port());
    cmd.env("ROOMCAST__BUS__NATS_URL", &closed);
    let warning = serve_logs_until(cmd, "is unreachable");
    assert!(
        warning.contains("NATS at nats://***@127.0.0.1"),
        "{warning}"
    );
    assert!(
        !warning.contains("hunter2"),
        "the password leaked: {warning}"
    );
    // A certificate without its key is a configuration error, named as such.
    let mut cmd = cluster.command();
    cmd.env_remove("ROOMCAST__BUS__NATS_TLS_KEY");
    let err = serve_fails(cmd);
    assert!(
        err.contains("bus.nats_tls_cert and bus.nats_tls_key"),
        "{err}"
    );

    // With both, two nodes connect and danmaku cross between them.
    let nodes = [cluster.start("a"), cluster.start("b")];
    for node in &nodes {
        assert_eq!(bus_state(node).await, "connected");
    }
    cluster.add_user("dave", false);
    let token = login(&nodes[0], "dave").await;
    let body = json!({"title": "Secure"});
    let room = open_room(&nodes[0], &token, body).await;
    let mut on_a = Viewer::join(&nodes[0], &room, Some(&token)).await;
    let mut on_b = Viewer::join(&nodes[1], &room, None).await;
    on_b.until_online(2).await;
    on_a.send("over tls").await;
    on_b.until_message("over tls").await;
}
