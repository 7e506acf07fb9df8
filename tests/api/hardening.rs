//! Attacks replayed against the real server: each test says what was tried and asserts
//! what the server did (status and error codes, socket closure, memory read from
//! `/proc/<pid>/status` of a `roomcast serve` process where memory is the point).

use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{eventually, spawn_app_with, Auth, Backend, TestApp};
use crate::on_both_backends;
use crate::process::ServerProcess;

on_both_backends!(
    thirty_concurrent_wrong_guesses_at_one_account_get_only_five_checks,
    behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another,
    signups_from_one_address_past_the_hourly_limit_get_429,
    rooms_and_comments_past_their_limits_get_429_and_users_cannot_set_on_demand,
    cookie_authenticated_api_calls_without_the_csrf_header_are_refused,
    a_socket_reads_on_as_a_visitor_after_its_session_logs_out,
    one_address_opens_at_most_ws_per_ip_sockets,
    three_hundred_invented_methods_add_one_metric_series_not_three_hundred,
    a_huge_page_number_is_past_the_end_not_page_one,
    a_burst_of_declared_uploads_stops_at_the_users_quota,
    a_playlist_named_mp4_reveals_nothing_about_the_servers_files,
    a_tiny_file_declaring_a_huge_picture_is_refused_before_decoding,
    sources_on_link_local_and_forbidden_private_hosts_are_refused,
    titles_with_a_bidi_override_or_a_zero_width_space_are_refused,
    saving_the_admin_form_unchanged_keeps_the_cameras_password,
    finished_job_runs_are_pruned_after_they_have_been_kept_long_enough,
    a_playlist_or_redirect_cannot_lead_a_source_to_a_link_local_host,
    comments_past_the_per_minute_limit_get_429,
    behind_https_the_csrf_cookie_is_secure,
);

#[actix_web::test]
async fn a_hundred_concurrent_wrong_logins_from_a_hundred_addresses_stay_within_the_hashing_cap() {
    // Behind a trusted proxy every request names another client, so no throttle applies:
    // only the hashing cap stands between the burst and the server's memory.
    let server = ServerProcess::start(&[
        ("ROOMCAST__HTTP__TRUSTED_PROXIES", "127.0.0.1"),
        ("ROOMCAST__LIMITS__PASSWORD_HASH_CONCURRENCY", "2"),
        ("ROOMCAST__LIMITS__PASSWORD_HASH_WAIT_MS", "500"),
    ]);
    let (idle, _) = server.memory();
    let attempts = (0..100).map(|i| {
        let server = &server;
        async move {
            let addr = format!("198.51.100.{}", i + 1);
            let body = json!({"username": format!("user{i}"), "password": "wrong-password"});
            server
                .post("/api/sessions", &[("X-Forwarded-For", &addr)], body)
                .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for (status, body) in &answers {
        *by_status.entry(*status).or_default() += 1;
        match status {
            401 => assert_eq!(body["error_code"], "002"),
            503 => {
                assert_eq!(body["error_code"], "026", "{body}");
                assert_eq!(body["has_retry_after"], true);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        by_status.contains_key(&503),
        "the burst was shed: {by_status:?}"
    );
    let (_, peak) = server.memory();
    assert!(
        peak < idle + 200,
        "peak {peak} MiB against {idle} MiB idle ({by_status:?})"
    );
}

async fn thirty_concurrent_wrong_guesses_at_one_account_get_only_five_checks(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    app.register("alice", "password123").await;
    let guesses = (0..30).map(|_| app.login("alice", "wrong-password"));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let refused = answers
        .iter()
        .filter(|r| r.status == 429 && r.error_code() == "008")
        .count();
    assert_eq!((checked, refused), (5, 25));
}

async fn behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.register("bob", "password123").await;
    let login = |client: &'static str, user: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/sessions"))
                .insert_header(("X-Forwarded-For", client))
                .send_json(&json!({"username": user, "password": password}))
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The attacker (203.0.113.9) tries five names; the sixth try from there is refused.
    for i in 0..5 {
        let user: &'static str = ["u0", "u1", "u2", "u3", "u4"][i];
        assert_eq!(login("203.0.113.9", user, "nope-nope").await, 401);
    }
    assert_eq!(login("203.0.113.9", "u5", "nope-nope").await, 429);
    // A forged left-hand entry does not get the attacker out: the proxy's entry is nearest.
    assert_eq!(
        login("192.0.2.50, 203.0.113.9", "u6", "nope-nope").await,
        429
    );
    // Another client behind the same proxy still signs in.
    assert_eq!(login("198.51.100.20", "bob", "password123").await, 201);
}

async fn signups_from_one_address_past_the_hourly_limit_get_429(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.limits.signups_per_hour = 3).await;
    for name in ["ann", "ben", "cat"] {
        assert_eq!(app.register(name, "password123").await.status, 201);
    }
    let res = app.register("dan", "password123").await;
    assert_eq!((res.status.as_u16(), res.error_code()), (429, "028"));
    assert!(res.header("retry-after").is_some());
    // Nothing was created for the refused sign-up.
    assert_eq!(app.login("dan", "password123").await.status, 401);
}

async fn rooms_and_comments_past_their_limits_get_429_and_users_cannot_set_on_demand(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.limits.rooms_per_hour = 2).await;
    let token = app.signed_in_user("carol").await;
    let open = |body: Value| app.json(Method::POST, "/api/rooms", Auth::Bearer(&token), Some(body));
    let res = open(json!({"title": "mine", "on_demand": true})).await;
    assert_eq!(
        (res.status.as_u16(), res.error_code()),
        (403, "009"),
        "on_demand is for admins"
    );
    assert_eq!(open(json!({"title": "one"})).await.status, 201);
    assert_eq!(open(json!({"title": "two"})).await.status, 201);
    let res = open(json!({"title": "three"})).await;
    assert_eq!((res.status.as_u16(), res.error_code()), (429, "028"));
    assert!(res.header("retry-after").is_some());
}

async fn cookie_authenticated_api_calls_without_the_csrf_header_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.signed_in_user("dora").await;
    let csrf = app.page("/", &[("roomcast_session", &token)]).await;
    let marker = "name=\"csrf-token\" content=\"";
    let start = csrf
        .html
        .find(marker)
        .expect("signed-in pages carry the token")
        + marker.len();
    let csrf = &csrf.html[start..start + 64];
    let post = |headers: Vec<(&'static str, String)>| {
        let mut req = app.client.post(app.url("/api/rooms"));
        for h in headers {
            req = req.insert_header(h);
        }
        req.send_json(&json!({"title": "from another page"}))
    };
    let cookie = ("Cookie", format!("roomcast_session={token}"));
    // A cross-site page can make the browser send the cookie, but not the header.
    let res = post(vec![cookie.clone()]).await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = post(vec![cookie.clone(), ("X-CSRF-Token", "0".repeat(64))])
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403, "a wrong token is refused");
    let res = post(vec![cookie.clone(), ("X-CSRF-Token", csrf.to_string())])
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    // Bearer calls carry no ambient credential and need no token.
    let res = post(vec![("Authorization", format!("Bearer {token}"))])
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    // A multipart upload by cookie alone is refused before anything is stored.
    let res = app
        .client
        .post(app.url("/api/videos"))
        .insert_header(cookie.clone())
        .insert_header(("Content-Type", "multipart/form-data; boundary=x"))
        .send_body("--x\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nt\r\n--x--\r\n")
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    // So is logging the user out from another site.
    let res = app
        .client
        .delete(app.url("/api/sessions/current"))
        .insert_header(cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(app.me(Auth::Bearer(&token)).await.status, 200);
}

async fn a_socket_reads_on_as_a_visitor_after_its_session_logs_out(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.danmaku.rate = "1000/1s".into()).await;
    let token = app.signed_in_user("erin").await;
    let room = app.create_room(&token, "talk").await;
    let (mut ws, _) = app.viewer(&room, Some(&token)).await;
    ws.send_json(json!({"type": "send", "text": "before"}))
        .await;
    let batch = ws.next_of_type("batch").await;
    assert_eq!(batch["items"][0]["text"], "before");
    let res = app
        .json(
            Method::DELETE,
            "/api/sessions/current",
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(res.status, 204);
    // A socket trusts a valid session for a second at most before checking it again.
    let deadline = Instant::now() + Duration::from_secs(5);
    let error = loop {
        ws.send_json(json!({"type": "send", "text": "after"})).await;
        let frame = ws.next_json().await;
        match frame["type"].as_str() {
            Some("error") => break frame,
            _ => assert!(Instant::now() < deadline, "still sending as erin: {frame}"),
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(error["code"], "unauthenticated", "{error}");
    // Once refused, the socket stays a visitor's.
    ws.send_json(json!({"type": "send", "text": "later"})).await;
    assert_eq!(ws.next_of_type("error").await["code"], "unauthenticated");
}

async fn one_address_opens_at_most_ws_per_ip_sockets(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.limits.ws_per_ip = 3).await;
    let token = app.signed_in_user("fred").await;
    let room = app.create_room(&token, "crowd").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.viewer(&room, None).await.0);
    }
    let refused = refused_upgrade(&app, &format!("/ws/rooms/{room}")).await;
    assert_eq!(refused, 429);
    let online = app
        .json(Method::GET, &format!("/api/rooms/{room}"), Auth::None, None)
        .await;
    assert!(online.body["online"].as_u64().unwrap() <= 3);
    // A closed socket gives its place back.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if app.ws_connect(&room, None, None).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the place came back");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status of a WebSocket upgrade that the server refused.
async fn refused_upgrade(app: &TestApp, path: &str) -> u16 {
    let res = app
        .client
        .get(app.url(path))
        .insert_header(("Upgrade", "websocket"))
        .insert_header(("Connection", "Upgrade"))
        .insert_header(("Sec-WebSocket-Version", "13"))
        .insert_header(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="))
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

/// A raw TCP connection upgraded to a WebSocket by hand, so that a test can send what no
/// well-behaved client library would (floods, lying frame headers) and choose not to read.
async fn raw_socket(address: &str, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// A masked client ping frame carrying 125 bytes.
fn ping_frame() -> Vec<u8> {
    let mut f = vec![0x89, 0x80 | 125, 0, 0, 0, 0];
    f.extend(std::iter::repeat_n(b'p', 125));
    f
}

async fn open_room(server: &ServerProcess) -> String {
    let (status, _) = server
        .post(
            "/api/users",
            &[],
            json!({"username": "owner", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, session) = server
        .post(
            "/api/sessions",
            &[],
            json!({"username": "owner", "password": "password123"}),
        )
        .await;
    let bearer = format!("Bearer {}", session["token"].as_str().unwrap());
    let (status, room) = server
        .post(
            "/api/rooms",
            &[("Authorization", &bearer)],
            json!({"title": "target"}),
        )
        .await;
    assert_eq!(status, 201);
    room["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn three_hundred_thousand_pings_on_a_socket_that_never_reads_park_no_memory_and_it_is_closed()
{
    let server = ServerProcess::start(&[]);
    let room = open_room(&server).await;
    let (idle, _) = server.memory();
    let mut tcp = raw_socket(
        server.address.trim_start_matches("http://"),
        &format!("/ws/rooms/{room}"),
    )
    .await;
    let burst: Vec<u8> = (0..1000).flat_map(|_| ping_frame()).collect();
    let mut sent = 0;
    let flood = async {
        for _ in 0..300 {
            tcp.write_all(&burst).await?;
            sent += 1000;
        }
        std::io::Result::Ok(())
    };
    // The server stops reading a peer that does not read, so the flood may block: that is
    // the server holding, not the test failing.
    let _ = actix_web::rt::time::timeout(Duration::from_secs(20), flood).await;
    let (now, peak) = server.memory();
    assert!(
        peak < idle + 60,
        "{sent} pings: peak {peak} MiB, now {now} MiB, idle {idle} MiB"
    );
    // The peer still reads nothing: the server closes the socket (its pong never goes
    // out), and the room no longer counts it.
    let path = format!("/api/rooms/{room}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown: Value = serde_json::from_str(&server.get(&path, &[]).await).unwrap();
        if shown["online"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flooding socket was closed: {shown}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
    drop(tcp);
}

#[actix_web::test]
async fn a_frame_declaring_a_terabyte_is_refused_with_1009_before_its_payload_is_buffered() {
    let server = ServerProcess::start(&[]);
    let room = open_room(&server).await;
    let (idle, _) = server.memory();
    let mut tcp = raw_socket(
        server.address.trim_start_matches("http://"),
        &format!("/ws/rooms/{room}"),
    )
    .await;
    let mut header = vec![0x82, 0x80 | 127];
    header.extend((1u64 << 40).to_be_bytes());
    header.extend([0, 0, 0, 0]);
    tcp.write_all(&header).await.unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let flood = async {
        for _ in 0..300 {
            tcp.write_all(&chunk).await?;
        }
        std::io::Result::Ok(())
    };
    let _ = actix_web::rt::time::timeout(Duration::from_secs(10), flood).await;
    let (_, peak) = server.memory();
    assert!(peak < idle + 40, "peak {peak} MiB against {idle} MiB idle");
    // The server's answer: a close frame with 1009 (message too big).
    let mut reply = Vec::new();
    let _ = actix_web::rt::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut reply)).await;
    let close = reply
        .windows(2)
        .position(|w| w[0] == 0x88)
        .map(|at| u16::from_be_bytes([reply[at + 2], reply[at + 3]]));
    assert_eq!(close, Some(1009), "{:?}", &reply[..reply.len().min(32)]);
}

#[actix_web::test]
async fn a_sources_token_and_credentials_reach_no_visitor_log_or_metric() {
    let server = ServerProcess::start(&[]);
    let admin = format!("Bearer {}", server.admin("root").await);
    // Nothing listens on port 9: ffmpeg fails and says so, naming the URL it tried.
    let sources = [
        (
            "SECRET123",
            "http://127.0.0.1:9/cam/live.ts?token=SECRET123",
        ),
        ("TOKEN4567", "http://TOKEN4567@127.0.0.1:9/cam/feed"),
    ];
    for (secret, source) in sources {
        let (status, room) = server
            .post(
                "/api/rooms",
                &[("Authorization", &admin)],
                json!({"title": "cam", "source_url": source}),
            )
            .await;
        assert_eq!(status, 201, "{room}");
        let path = format!("/api/rooms/{}", room["id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let seen = loop {
            let seen: Value =
                serde_json::from_str(&server.get(&path, &[("Authorization", &admin)]).await)
                    .unwrap();
            if seen["live"]["last_error"].is_string() && seen["live"]["state"] == "backoff" {
                break seen;
            }
            assert!(Instant::now() < deadline, "the source failed: {seen}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        let admin_view = seen.to_string();
        assert!(
            !admin_view.contains(secret),
            "the admin sees it redacted: {admin_view}"
        );
        assert!(
            admin_view.contains("127.0.0.1:9"),
            "but sees where: {admin_view}"
        );
        let visitor: Value = serde_json::from_str(&server.get(&path, &[]).await).unwrap();
        assert_eq!(
            visitor["live"]["last_error"], "the source cannot be reached; retrying",
            "{visitor}"
        );
        let metrics = server.get("/metrics", &[]).await;
        assert!(!metrics.contains(secret));
        let log = server.log();
        assert!(log.contains("127.0.0.1:9"), "the log names the host");
        assert!(!log.contains(secret), "{log}");
    }
}

async fn three_hundred_invented_methods_add_one_metric_series_not_three_hundred(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let metrics = || async { app.page("/metrics", &[]).await.html };
    // One request first, so the series every 404 creates exist before measuring.
    let first = Method::from_bytes(b"BREW").unwrap();
    app.client
        .request(first, app.url("/x"))
        .send()
        .await
        .unwrap();
    metrics().await; // and the series of reading /metrics itself
    let before = metrics().await;
    for i in 0..300 {
        let method = Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        app.client
            .request(method, app.url("/x"))
            .send()
            .await
            .unwrap();
    }
    let after = metrics().await;
    assert!(!after.contains("INVENTED"), "no client-made label value");
    assert!(after.contains(r#"method="other""#));
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        series(&after),
        series(&before),
        "the same series, counted up"
    );
}

async fn a_huge_page_number_is_past_the_end_not_page_one(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.signed_in_user("hank").await;
    let video = app
        .ready_video(&token, crate::media::Fixture::Faststart)
        .await;
    let title = video["title"].as_str().unwrap();
    let first = app.page("/videos?page=1", &[]).await;
    assert!(first.html.contains(title));
    let huge = app.page(&format!("/videos?page={}", i64::MAX), &[]).await;
    assert_eq!(huge.status, 200);
    assert!(
        !huge.html.contains(title),
        "page {} showed page 1",
        i64::MAX
    );
    let res = app
        .json(
            Method::GET,
            &format!("/api/videos?page={}", i64::MAX),
            Auth::None,
            None,
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.body["videos"].as_array().map(Vec::len),
        Some(0),
        "{}",
        res.body
    );
}

/// A connection to the server with a tiny receive buffer, for a client that will not read.
async fn small_buffer_connection(address: &str) -> TcpStream {
    let host = address.trim_start_matches("http://");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(host.parse().unwrap()).await.unwrap()
}

/// True when the server ends the connection within `wait`: what the kernel already holds
/// is read and dropped until the stream ends.
async fn drains_to_end(tcp: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = vec![0u8; 1 << 16];
    actix_web::rt::time::timeout(wait, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Starts a download of `path` on a raw connection and reads only the status line.
async fn stalled_download(address: &str, path: &str) -> TcpStream {
    let host = address.trim_start_matches("http://");
    let mut tcp = small_buffer_connection(address).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    tcp
}

#[actix_web::test]
async fn three_downloads_that_never_read_lose_their_permits_and_connections_after_the_write_timeout(
) {
    let (app, _, id) = crate::videos::app_with_video(|s| {
        s.stream.max_connections = 3;
        s.stream.write_timeout_secs = 1;
    })
    .await;
    crate::videos::grow_video_file(&app, &id);
    let path = format!("/videos/{id}/stream");
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(stalled_download(&app.address, &path).await);
    }
    let range = || async {
        app.client
            .get(app.url(&path))
            .insert_header(("Range", "bytes=0-9"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(range().await, 429, "every permit is held");
    // The stalled clients keep their connections open; the server lets go of them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while range().await != 206 {
        assert!(Instant::now() < deadline, "the permits came back");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    for mut tcp in stalled {
        assert!(
            drains_to_end(&mut tcp, Duration::from_secs(10)).await,
            "the server hung up the stalled download"
        );
    }
}

#[actix_web::test]
async fn a_tus_patch_that_trickles_a_byte_at_a_time_is_cut_off_and_the_upload_resumes() {
    use crate::uploads::{create, offset, tus, TUS};
    let app = spawn_app_with(Backend::Sqlite, |s| s.stream.write_timeout_secs = 1).await;
    let token = app.signed_in_user("ivy").await;
    let data = crate::media::bytes(crate::media::Fixture::Faststart);
    let url = create(&app, &token, data.len()).await;
    // The PATCH declares the whole file, sends 100 bytes, then one every 200 ms.
    let host = app.address.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(host).await.unwrap();
    let head = format!(
        "PATCH {url} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&data[..100]).await.unwrap();
    let started = Instant::now();
    let mut sent = 100;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while reply.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server cut it off"
        );
        if tcp.write_all(&data[sent..sent + 1]).await.is_err() {
            break;
        }
        sent += 1;
        if let Ok(Ok(n)) =
            actix_web::rt::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await
        {
            reply.extend_from_slice(&buf[..n]);
        }
    }
    drop(tcp);
    let kept = offset(&app, &token, &url).await;
    assert!((100..=sent as u64).contains(&kept), "kept {kept} of {sent}");
    // Not locked: the rest goes in at once.
    let (status, _, body) = tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &[
            (TUS.0, TUS.1.into()),
            ("Upload-Offset", kept.to_string()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        data[kept as usize..].to_vec(),
    )
    .await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
}

async fn a_burst_of_declared_uploads_stops_at_the_users_quota(backend: Backend) {
    use crate::uploads::{tus, TUS};
    let app = spawn_app_with(backend, |s| s.upload.quota_bytes = 1_000_000).await;
    let token = app.signed_in_user("jack").await;
    let declare = |length: u64| {
        let (app, token) = (&app, &token);
        async move {
            let headers = [
                (TUS.0, TUS.1.to_string()),
                ("Upload-Length", length.to_string()),
                ("Upload-Metadata", "title dA==".to_string()),
            ];
            let (status, _, body) = tus(
                app,
                Method::POST,
                "/api/uploads",
                token,
                &headers,
                Vec::new(),
            )
            .await;
            let code = serde_json::from_slice::<Value>(&body)
                .map(|b| b["error_code"].as_str().unwrap_or("").to_string())
                .unwrap_or_default();
            (status, code)
        }
    };
    // Thirty uploads of 100 kB declared at once: ten fit, and no more.
    let answers = futures_util::future::join_all((0..30).map(|_| declare(100_000))).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers
        .iter()
        .filter(|(s, c)| *s == 413 && c == "027")
        .count();
    assert_eq!((created, refused), (10, 20), "{answers:?}");
    // A plain upload past the quota is refused too, and nothing of it is kept.
    let data = crate::media::bytes(crate::media::Fixture::Faststart);
    let res = app
        .upload(Auth::Bearer(&token), "over", "over.mp4", &data)
        .await;
    assert_eq!(
        (res.status.as_u16(), res.error_code()),
        (413, "027"),
        "{}",
        res.body
    );
    let listed = app.json(Method::GET, "/api/videos", Auth::None, None).await;
    assert_eq!(listed.body["videos"].as_array().map(Vec::len), Some(0));
}

async fn a_playlist_named_mp4_reveals_nothing_about_the_servers_files(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.signed_in_user("kim").await;
    let storage = app.settings.storage.dir.canonicalize().unwrap();
    // Tried: an HLS playlist, uploaded as .mp4, that points at a file that exists and at
    // one that does not. A file oracle would answer the two differently.
    let mut answers = Vec::new();
    for target in ["/etc/hostname", "/no/such/file.ts"] {
        let playlist =
            format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{target}\n#EXT-X-ENDLIST\n");
        let res = app
            .upload(
                Auth::Bearer(&token),
                "list",
                "clip.mp4",
                playlist.as_bytes(),
            )
            .await;
        assert_eq!(
            (res.status.as_u16(), res.error_code()),
            (422, "017"),
            "{}",
            res.body
        );
        let text = res.body["error"].as_str().unwrap().to_string();
        assert!(!text.contains(storage.to_str().unwrap()), "{text}");
        assert!(!text.contains(target), "{text}");
        answers.push(text);
    }
    assert_eq!(answers[0], answers[1]);
    app.assert_no_files_in("videos").await;
}

async fn a_tiny_file_declaring_a_huge_picture_is_refused_before_decoding(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.signed_in_user("lee").await;
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:size=9000x64:rate=1",
        ])
        .args(["-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&wide)
        .status()
        .unwrap();
    assert!(made.success());
    let data = std::fs::read(&wide).unwrap();
    assert!(data.len() < 10_000, "a small file");
    let res = app
        .upload(Auth::Bearer(&token), "wide", "wide.mp4", &data)
        .await;
    assert_eq!(
        (res.status.as_u16(), res.error_code()),
        (422, "017"),
        "{}",
        res.body
    );
    assert!(
        res.body["error"].as_str().unwrap().contains("9000x64"),
        "{}",
        res.body
    );
    app.assert_no_files_in("videos").await;
    app.assert_no_files_in("thumbs").await;
}

async fn sources_on_link_local_and_forbidden_private_hosts_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.ingest.allow_private_sources = false).await;
    let token = app.admin("root").await;
    let admin = Auth::Bearer(&token);
    // Tried: the cloud metadata address, a loopback camera, a name that resolves to loopback.
    for source in [
        "http://169.254.169.254/latest/meta-data/",
        "rtsp://[fe80::1]:554/stream",
        "rtsp://127.0.0.1:8554/cam",
        "rtsp://localhost:8554/cam",
        "rtmp://10.0.0.8/live/cam",
    ] {
        let res = app
            .json(
                Method::POST,
                "/api/rooms",
                admin,
                Some(json!({"title": "cam", "source_url": source})),
            )
            .await;
        assert_eq!(
            (res.status.as_u16(), res.error_code()),
            (400, "016"),
            "{source}: {}",
            res.body
        );
    }
    // A room's source cannot be changed to one either, and the room keeps what it had.
    let room = app.create_room(&token, "plain").await;
    let path = format!("/api/rooms/{room}");
    let res = app
        .json(
            Method::PATCH,
            &path,
            admin,
            Some(json!({"source_url": "http://169.254.169.254/"})),
        )
        .await;
    assert_eq!(res.status.as_u16(), 400, "{}", res.body);
    let shown = app.json(Method::GET, &path, admin, None).await;
    assert_eq!(shown.body["has_source"], false);
}

async fn titles_with_a_bidi_override_or_a_zero_width_space_are_refused(backend: Backend) {
    use crate::uploads::{tus, TUS};
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.signed_in_user("max").await;
    // Tried: a room title that reverses what follows it, and a video title with a hidden
    // zero-width space (a look-alike of another title).
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({"title": "free \u{202E}4pm.exe"})),
        )
        .await;
    assert_eq!(
        (res.status.as_u16(), res.error_code()),
        (400, "016"),
        "{}",
        res.body
    );
    use base64::Engine;
    let title = base64::engine::general_purpose::STANDARD.encode("Off\u{200B}icial");
    let headers = [
        (TUS.0, TUS.1.to_string()),
        ("Upload-Length", "1000".to_string()),
        ("Upload-Metadata", format!("title {title}")),
    ];
    let (status, _, body) = tus(
        &app,
        Method::POST,
        "/api/uploads",
        &token,
        &headers,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let rooms = app.json(Method::GET, "/api/rooms", Auth::None, None).await;
    assert_eq!(rooms.body["rooms"].as_array().map(Vec::len), Some(0));
}

async fn saving_the_admin_form_unchanged_keeps_the_cameras_password(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.admin("root").await;
    let source = "rtsp://admin:s3cret-pass@127.0.0.1:9/cam";
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({"title": "door", "source_url": source})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let room = res.body["id"].as_str().unwrap().to_string();
    let panel = app
        .page("/admin/rooms", &[("roomcast_session", &token)])
        .await;
    let shown = "rtsp://admin:***@127.0.0.1:9/cam";
    assert!(panel.html.contains(shown) && !panel.html.contains("s3cret-pass"));
    // Tried: saving the row as the form shows it, only ticking on-demand.
    let csrf = crate::admin::csrf(&app, &token).await;
    let res = app
        .post_form(
            &format!("/admin/rooms/{room}/source"),
            &[("roomcast_session", &token)],
            &[
                ("csrf_token", &csrf),
                ("source_url", shown),
                ("on_demand", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let mut conn = app.pool.get().unwrap();
    let row = roomcast::db::rooms::find(&mut conn, &room)
        .unwrap()
        .unwrap();
    assert_eq!(
        row.source_url.as_deref(),
        Some(source),
        "the password survived"
    );
    assert!(row.on_demand);
}

async fn finished_job_runs_are_pruned_after_they_have_been_kept_long_enough(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.jobs.keep_runs_secs = 1).await;
    let old = app.run_job("delete_expired_sessions").await;
    assert_eq!(old["state"], "done");
    let old_id = old["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let prune = app.run_job("prune_job_runs").await;
        assert_eq!(prune["state"], "done", "{prune}");
        let mut conn = app.pool.get().unwrap();
        if roomcast::db::jobs::find(&mut conn, &old_id)
            .unwrap()
            .is_none()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the old run was pruned");
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    }
    // A run that finished after the cut-off is kept.
    let fresh = app.run_job("delete_expired_sessions").await;
    let id = fresh["id"].as_str().unwrap();
    let mut conn = app.pool.get().unwrap();
    let row = roomcast::db::jobs::find(&mut conn, id).unwrap().unwrap();
    let cutoff = row.finished_at.unwrap() - chrono::TimeDelta::milliseconds(1);
    roomcast::db::jobs::delete_done_before(&mut conn, cutoff).unwrap();
    assert!(roomcast::db::jobs::find(&mut conn, id).unwrap().is_some());
}

/// `roomcast_ingest_egress_refused_total{reason="link_local"}` as `/metrics` shows it.
async fn link_local_refusals(app: &TestApp) -> u64 {
    let metrics = app.page("/metrics", &[]).await.html;
    metrics
        .lines()
        .find(|l| l.starts_with(r#"roomcast_ingest_egress_refused_total{reason="link_local"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// An HTTP server that plays a hostile camera: a live playlist whose segment sits on the
/// cloud metadata address, and a redirect there. Returns its port.
fn hostile_camera() -> u16 {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/live.m3u8",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("application/vnd.apple.mpegurl")
                        .body(
                            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n\
                             #EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\n\
                             http://169.254.169.254/latest/seg0.ts\n",
                        )
                }),
            )
            .route(
                "/moved.ts",
                web::get().to(|| async {
                    HttpResponse::Found()
                        .insert_header(("Location", "http://169.254.169.254/latest/meta-data"))
                        .finish()
                }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    port
}

async fn a_playlist_or_redirect_cannot_lead_a_source_to_a_link_local_host(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.admin("root").await;
    let camera = hostile_camera();
    // The URLs the admin typed are on loopback (allowed here); where they lead is not.
    let mut seen = 0;
    for path in ["/live.m3u8", "/moved.ts"] {
        let source = format!("http://127.0.0.1:{camera}{path}");
        let res = app
            .json(
                Method::POST,
                "/api/rooms",
                Auth::Bearer(&token),
                Some(json!({"title": "cam", "source_url": source})),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = link_local_refusals(&app).await;
            if now > seen {
                seen = now;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: ffmpeg's way to 169.254.169.254 was refused"
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn comments_past_the_per_minute_limit_get_429(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.limits.comments_per_minute = 2).await;
    let token = app.signed_in_user("nina").await;
    let video = app
        .ready_video(&token, crate::media::Fixture::Faststart)
        .await;
    let path = format!("/api/videos/{}/comments", video["id"].as_str().unwrap());
    let post = |n: u32| {
        app.json(
            Method::POST,
            &path,
            Auth::Bearer(&token),
            Some(json!({"body": format!("comment {n}")})),
        )
    };
    assert_eq!(post(1).await.status, 201);
    assert_eq!(post(2).await.status, 201);
    let res = post(3).await;
    assert_eq!(
        (res.status.as_u16(), res.error_code()),
        (429, "028"),
        "{}",
        res.body
    );
    assert!(res.header("retry-after").is_some());
    let listed = app.json(Method::GET, &path, Auth::None, None).await;
    assert_eq!(listed.body["comments"].as_array().map(Vec::len), Some(2));
}

async fn behind_https_the_csrf_cookie_is_secure(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.http.public_url = "https://video.example.org".into()
    })
    .await;
    let page = app.page("/login", &[]).await;
    let cookie = page
        .headers
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("roomcast_csrf="))
        .expect("a visitor's form page sets the CSRF cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[actix_web::test]
async fn a_video_socket_that_never_reads_is_closed_and_its_connection_ended() {
    // Short limits: a peer silent for 3 s, or a write stalled for 2 s, closes the socket.
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.ingest.allow_files = true;
        s.ws.stall_ms = 2000;
        s.ws.silence_ms = 3000;
        s.ws.ping_ms = 500;
    })
    .await;
    let token = app.admin("root").await;
    let src = crate::media::fixture(crate::media::Fixture::LiveTs);
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&token),
            Some(json!({"title": "cam", "source_url": format!("file:{}", src.display())})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let room = res.body["id"].as_str().unwrap().to_string();
    crate::ingest::wait_live(&app, &room, "running").await;
    // Tried: a video socket with a tiny receive buffer whose client never reads.
    let host = app.address.trim_start_matches("http://").to_string();
    let mut tcp = small_buffer_connection(&app.address).await;
    let request = format!(
        "GET /ws/rooms/{room}/video HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut status = [0u8; 12];
    tcp.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 101");
    let viewers = |app: &TestApp| {
        let path = format!("/api/rooms/{room}");
        let app = app.address.clone();
        async move {
            let mut res = awc::Client::default()
                .get(format!("{app}{path}"))
                .send()
                .await
                .unwrap();
            let body: Value = res.json().await.unwrap();
            body["live"]["video_viewers"].as_u64().unwrap_or(0)
        }
    };
    eventually(Duration::from_secs(20), "the socket joined", || async {
        viewers(&app).await > 0
    })
    .await;
    // A client that never reads answers no ping either: it is dropped as silent, or as
    // stalled once the kernel's socket buffers are full (a low-bitrate stream takes long
    // to fill them), whichever comes first.
    let stalled_from = Instant::now();
    eventually(
        Duration::from_secs(30),
        "the never-reading viewer was dropped",
        || async { viewers(&app).await == 0 },
    )
    .await;
    eprintln!("dropped {:?} after joining", stalled_from.elapsed());
    // And its connection is ended, not left ESTABLISHED with a full send buffer: what the
    // kernel already holds drains, then the stream ends.
    assert!(
        drains_to_end(&mut tcp, Duration::from_secs(15)).await,
        "the connection was hung up"
    );
}
