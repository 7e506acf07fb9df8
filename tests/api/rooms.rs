//! Live rooms: the rooms API and the danmaku engine over real WebSockets.

use std::time::Duration;

use awc::http::Method;
use awc::ws::Message;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Auth, Backend, TestApp, WsClient};

crate::on_both_backends!(
    rooms_are_created_listed_and_shown_with_online_counts,
    a_room_title_is_validated_and_sources_need_an_admin,
    two_viewers_receive_each_others_messages_in_one_batch,
    seq_rises_by_one_per_frame_without_gaps,
    a_viewer_that_reconnects_resumes_exactly_where_it_left_off,
    compressed_viewers_get_the_plain_viewers_frames_deflated_once_per_window,
    a_joiner_gets_hello_with_history,
    history_survives_a_restart,
    anonymous_viewers_read_but_cannot_send,
    bad_input_gets_its_error_frame,
    repeated_bad_frames_close_the_socket_with_1008,
    the_fourth_message_in_two_seconds_is_rate_limited_and_flooding_mutes,
    the_owner_retracts_a_message_for_everyone,
    a_ban_mutes_the_user_and_tells_their_sockets,
    only_the_owner_or_an_admin_moderates,
    a_foreign_origin_cannot_open_a_socket,
    online_counts_go_out_when_they_change,
    a_room_without_viewers_stops_and_comes_back_on_demand,
);

/// A signed-in user's token, a room of theirs, and the room's id.
async fn room_with_owner(app: &TestApp, owner: &str) -> (String, String) {
    let token = app.signed_in_user(owner).await;
    let room = app.create_room(&token, "Night market").await;
    (token, room)
}

fn send(text: &str) -> Value {
    json!({ "type": "send", "text": text })
}

async fn rooms_are_created_listed_and_shown_with_online_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let (token, room) = room_with_owner(&app, "alice").await;
    let (_v1, hello) = app.viewer(&room, Some(&token)).await;
    assert_eq!(hello["room"], room.as_str());
    let (_v2, _) = app.viewer(&room, None).await;
    let shown = app
        .json(Method::GET, &format!("/api/rooms/{room}"), Auth::None, None)
        .await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["title"], "Night market");
    assert_eq!(shown.body["owner"], "alice");
    assert_eq!(shown.body["online"], 2);
    assert!(shown.body["live"].is_null(), "no source, no live section");
    let list = app.json(Method::GET, "/api/rooms", Auth::None, None).await;
    assert_eq!(list.body["rooms"][0]["id"], room.as_str());
    assert_eq!(list.body["rooms"][0]["online"], 2);
    let missing = app
        .json(Method::GET, "/api/rooms/nope", Auth::None, None)
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), "010");
}

async fn a_room_title_is_validated_and_sources_need_an_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("bob").await;
    let create =
        |body: Value| app.json(Method::POST, "/api/rooms", Auth::Bearer(&token), Some(body));
    let res = create(json!({ "title": "   " })).await;
    assert_eq!((res.status.as_u16(), res.error_code()), (400, "016"));
    let res = create(json!({ "title": "x".repeat(101) })).await;
    assert_eq!(res.status, 400);
    let res = create(json!({ "title": "Cam", "source_url": "rtsp://10.0.0.5/stream" })).await;
    assert_eq!((res.status.as_u16(), res.error_code()), (403, "009"));
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::None,
            Some(json!({ "title": "Anon" })),
        )
        .await;
    assert_eq!(res.status, 401);
}

async fn two_viewers_receive_each_others_messages_in_one_batch(backend: Backend) {
    // A wide window so that both sends certainly land in the same one.
    let app = spawn_app_with(backend, |s| s.danmaku.window_ms = 400).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let bob = app.signed_in_user("bob").await;
    let (mut a, _) = app.viewer(&room, Some(&alice)).await;
    let (mut b, _) = app.viewer(&room, Some(&bob)).await;
    a.send_json(
        json!({ "type": "send", "text": "hi from alice", "color": "#FF0000", "mode": "top" }),
    )
    .await;
    b.send_json(send("  hi from bob  ")).await;
    for viewer in [&mut a, &mut b] {
        let batch = viewer.next_of_type("batch").await;
        let items = batch["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{batch}");
        let by_text = |t: &str| items.iter().find(|i| i["text"] == t).cloned().unwrap();
        let from_alice = by_text("hi from alice");
        assert_eq!(from_alice["user"], "alice");
        assert_eq!(from_alice["color"], "#ff0000");
        assert_eq!(from_alice["mode"], "top");
        let from_bob = by_text("hi from bob");
        assert_eq!(from_bob["user"], "bob");
        assert_eq!(from_bob["color"], "#ffffff");
        assert_eq!(from_bob["mode"], "scroll");
        assert!(from_bob["at"].as_i64().unwrap() > 1_700_000_000_000);
        assert!(!from_bob["id"].as_str().unwrap().is_empty());
    }
}

async fn seq_rises_by_one_per_frame_without_gaps(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.danmaku.window_ms = 20;
        s.danmaku.rate = "1000/1s".into();
    })
    .await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (mut sender, _) = app.viewer(&room, Some(&alice)).await;
    let (mut watcher, _) = app.viewer(&room, None).await;
    let mut expected_texts = Vec::new();
    // Each message after the previous one came back, so they fall in different windows.
    for i in 0..12 {
        let text = format!("message {i}");
        sender.send_json(send(&text)).await;
        loop {
            let batch = sender.next_of_type("batch").await;
            if texts_of(&batch["items"]).contains(&text) {
                break;
            }
        }
        expected_texts.push(text);
    }
    let mut seqs = Vec::new();
    let mut texts = Vec::new();
    while texts.len() < expected_texts.len() {
        let batch = watcher.next_of_type("batch").await;
        seqs.push(batch["seq"].as_u64().unwrap());
        for item in batch["items"].as_array().unwrap() {
            texts.push(item["text"].as_str().unwrap().to_string());
        }
    }
    assert!(seqs.len() > 1, "several windows: {seqs:?}");
    let expected_seqs: Vec<u64> = (seqs[0]..seqs[0] + seqs.len() as u64).collect();
    assert_eq!(seqs, expected_seqs, "no gaps");
    assert_eq!(texts, expected_texts, "in order, none lost");
}

/// Sends `texts` and reads `watcher`'s batches until the last of them arrived; returns that
/// batch's `seq`.
async fn send_and_see(sender: &mut WsClient, watcher: &mut WsClient, texts: &[&str]) -> u64 {
    for t in texts {
        sender.send_json(send(t)).await;
    }
    let last = texts.last().unwrap();
    loop {
        let batch = watcher.next_of_type("batch").await;
        if texts_of(&batch["items"]).iter().any(|t| t == last) {
            return batch["seq"].as_u64().unwrap();
        }
    }
}

/// The next `hello` or `batch` frame's JSON text: a text frame as it came, a binary frame
/// inflated (raw DEFLATE, by flate2). Other frames are skipped; `binary` says which kind
/// carried it.
async fn next_room_frame(ws: &mut WsClient) -> (String, bool) {
    use std::io::Read;
    loop {
        let frame = ws
            .next_frame(Duration::from_secs(5))
            .await
            .expect("a frame within 5 s");
        let (text, binary) = match frame {
            awc::ws::Frame::Text(bytes) => (String::from_utf8(bytes.to_vec()).unwrap(), false),
            awc::ws::Frame::Binary(bytes) => {
                let mut text = String::new();
                flate2::read::DeflateDecoder::new(&bytes[..])
                    .read_to_string(&mut text)
                    .expect("raw DEFLATE of UTF-8");
                (text, true)
            }
            awc::ws::Frame::Ping(p) => {
                ws.send(Message::Pong(p)).await;
                continue;
            }
            other => panic!("unexpected frame {other:?}"),
        };
        let kind = serde_json::from_str::<Value>(&text).unwrap()["type"].clone();
        if kind == "hello" || kind == "batch" {
            return (text, binary);
        }
        assert!(
            !binary,
            "only hello and batch frames are compressed: {text}"
        );
    }
}

fn compressed_total(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("roomcast_danmaku_frames_compressed_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

async fn compressed_viewers_get_the_plain_viewers_frames_deflated_once_per_window(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.danmaku.window_ms = 20;
        s.danmaku.rate = "1000/1s".into();
    })
    .await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    post_and_wait_stored(&app, &alice, &room, &["弹幕 history"]).await;
    let (mut sender, _) = app.viewer(&room, Some(&alice)).await;
    let mut plain = app.ws_connect(&room, None, None).await.unwrap();
    let mut zipped = Vec::new();
    for _ in 0..2 {
        let path = format!("{room}?compress=deflate");
        zipped.push(app.ws_connect(&path, None, None).await.unwrap());
    }

    // The hello: binary for compressed viewers, the same JSON once inflated.
    let (hello, binary) = next_room_frame(&mut plain).await;
    assert!(!binary, "a plain viewer's frames stay text");
    for z in &mut zipped {
        let (their_hello, binary) = next_room_frame(z).await;
        assert!(binary, "a compressed viewer's hello is binary");
        let (ours, theirs): (Value, Value) = (
            serde_json::from_str(&hello).unwrap(),
            serde_json::from_str(&their_hello).unwrap(),
        );
        assert_eq!(ours["history"], theirs["history"], "{their_hello}");
    }

    // Three windows of mixed Chinese and English.
    let before = compressed_total(&app.page("/metrics", &[]).await.html);
    let texts = ["弹幕 one", "第二 two 第二", "three 三"];
    for text in texts {
        sender.send_json(send(text)).await;
        let (batch, _) = next_room_frame(&mut plain).await;
        assert!(batch.contains(text), "{batch}");
        for z in &mut zipped {
            let (theirs, binary) = next_room_frame(z).await;
            assert!(binary);
            assert_eq!(theirs, batch, "byte for byte, once inflated");
        }
    }
    let after = compressed_total(&app.page("/metrics", &[]).await.html);
    assert_eq!(
        after - before,
        3,
        "deflated once per window, not per viewer"
    );
}

async fn a_viewer_that_reconnects_resumes_exactly_where_it_left_off(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.danmaku.window_ms = 20;
        s.danmaku.rate = "1000/1s".into();
        s.danmaku.resume_batches = 3;
    })
    .await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (mut sender, _) = app.viewer(&room, Some(&alice)).await;
    let (mut watcher, _) = app.viewer(&room, None).await;
    let (mut blip, hello) = app.viewer(&room, None).await;
    let epoch = hello["epoch"].as_str().unwrap().to_string();
    assert_eq!(hello["recovered"], false, "a first join resumes nothing");
    assert_eq!(hello["seq"], 0);

    // The viewer sees one window, then its network drops for two more.
    send_and_see(&mut sender, &mut watcher, &["seen"]).await;
    let seen = blip.next_of_type("batch").await;
    let since = seen["seq"].as_u64().unwrap();
    drop(blip);
    send_and_see(&mut sender, &mut watcher, &["missed one", "missed two"]).await;
    let last = send_and_see(&mut sender, &mut watcher, &["missed three"]).await;

    // Back with its place: exactly what it missed, in order, and it goes on from there.
    let resume = format!("{room}?epoch={epoch}&since={since}");
    let (mut back, hello) = app.viewer(&resume, None).await;
    assert_eq!(hello["recovered"], true, "{hello}");
    assert_eq!(
        texts_of(&hello["history"]),
        ["missed one", "missed two", "missed three"]
    );
    assert_eq!(hello["seq"], last);
    send_and_see(&mut sender, &mut watcher, &["after"]).await;
    let next = back.next_of_type("batch").await;
    assert_eq!(next["seq"], last + 1, "no batch lost or repeated");
    assert_eq!(texts_of(&next["items"]), ["after"]);

    // Tried: a place older than the 3 batches the room keeps, another run's epoch, and a
    // batch never sent. Each gets the usual history, marked not recovered.
    send_and_see(&mut sender, &mut watcher, &["and more"]).await;
    for query in [
        format!("{room}?epoch={epoch}&since={since}"),
        format!("{room}?epoch=another&since={last}"),
        format!("{room}?epoch={epoch}&since={}", last + 100),
    ] {
        let (_v, hello) = app.viewer(&query, None).await;
        assert_eq!(hello["recovered"], false, "{query}: {hello}");
        let history = texts_of(&hello["history"]);
        assert_eq!(history.first().map(String::as_str), Some("seen"), "{query}");
        assert_eq!(
            history.last().map(String::as_str),
            Some("and more"),
            "{query}"
        );
    }
}

/// Sends `texts` from a fresh viewer and waits until they are stored.
async fn post_and_wait_stored(app: &TestApp, token: &str, room: &str, texts: &[&str]) {
    let (mut v, _) = app.viewer(room, Some(token)).await;
    for t in texts {
        v.send_json(send(t)).await;
    }
    let path = format!("/api/rooms/{room}/danmaku?limit=100");
    for _ in 0..100 {
        let res = app.json(Method::GET, &path, Auth::None, None).await;
        if res.body["items"].as_array().unwrap().len() >= texts.len() {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the messages were not stored");
}

fn texts_of(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_string())
        .collect()
}

async fn a_joiner_gets_hello_with_history(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.danmaku.history = 2).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    post_and_wait_stored(&app, &alice, &room, &["one", "two", "three"]).await;
    let (_late, hello) = app.viewer(&room, None).await;
    assert_eq!(
        texts_of(&hello["history"]),
        ["two", "three"],
        "the last `history` messages"
    );
    assert!(hello["online"].as_u64().unwrap() >= 1);
    let api = app
        .json(
            Method::GET,
            &format!("/api/rooms/{room}/danmaku?limit=2"),
            Auth::None,
            None,
        )
        .await;
    assert_eq!(texts_of(&api.body["items"]), ["two", "three"]);
}

async fn history_survives_a_restart(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    post_and_wait_stored(&app, &alice, &room, &["before the restart"]).await;
    app.restart().await;
    let (_v, hello) = app.viewer(&room, None).await;
    assert_eq!(texts_of(&hello["history"]), ["before the restart"]);
    assert_eq!(hello["history"][0]["user"], "alice");
}

async fn anonymous_viewers_read_but_cannot_send(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (mut anon, _) = app.viewer(&room, None).await;
    anon.send_json(send("let me in")).await;
    let err = anon.next_of_type("error").await;
    assert_eq!(err["code"], "unauthenticated");
    let (mut a, _) = app.viewer(&room, Some(&alice)).await;
    a.send_json(send("hello anon")).await;
    let batch = anon.next_of_type("batch").await;
    assert_eq!(batch["items"][0]["text"], "hello anon");
    assert_eq!(
        batch["items"].as_array().unwrap().len(),
        1,
        "the refused message went nowhere"
    );
}

async fn bad_input_gets_its_error_frame(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (mut a, _) = app.viewer(&room, Some(&alice)).await;
    // 201 characters; control characters; a bad colour; a bad mode; a bidi override.
    let cases = [
        (send(&"x".repeat(201)), "too_long"),
        (send("bell\u{7}"), "bad_frame"),
        (
            json!({ "type": "send", "text": "hi", "color": "red" }),
            "bad_frame",
        ),
        (
            json!({ "type": "send", "text": "hi", "mode": "sideways" }),
            "bad_frame",
        ),
    ];
    for (frame, code) in cases {
        a.send_json(frame.clone()).await;
        let err = a.next_of_type("error").await;
        assert_eq!(err["code"], code, "{frame}");
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    let mut b = app.ws_connect(&room, Some(&alice), None).await.unwrap();
    b.next_of_type("hello").await;
    // Malformed JSON, an unknown type, a frame over 4 KiB, a binary frame.
    let raw = [
        Message::Text("{not json".into()),
        Message::Text(r#"{"type":"shout","text":"x"}"#.into()),
        Message::Text(format!(r#"{{"type":"send","text":"{}"}}"#, "y".repeat(5000)).into()),
        Message::Binary(vec![1u8, 2, 3].into()),
    ];
    for msg in raw {
        b.send(msg).await;
        assert_eq!(b.next_of_type("error").await["code"], "bad_frame");
    }
    // None of it reached the room.
    let path = format!("/api/rooms/{room}/danmaku");
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let stored = app.json(Method::GET, &path, Auth::None, None).await;
    assert!(stored.body["items"].as_array().unwrap().is_empty());
}

async fn repeated_bad_frames_close_the_socket_with_1008(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (mut a, _) = app.viewer(&room, Some(&alice)).await;
    for _ in 0..5 {
        a.send(Message::Text("garbage".into())).await;
    }
    assert_eq!(a.closed_with(Duration::from_secs(5)).await, Some(1008));
}

async fn the_fourth_message_in_two_seconds_is_rate_limited_and_flooding_mutes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (mut a, _) = app.viewer(&room, Some(&alice)).await;
    for i in 0..4 {
        a.send_json(send(&format!("m{i}"))).await;
    }
    // The batch with the three accepted messages may arrive before or after the refusal.
    let mut texts = Vec::new();
    let err = loop {
        let frame = a.next_json().await;
        match frame["type"].as_str() {
            Some("batch") => texts.extend(texts_of(&frame["items"])),
            Some("error") => break frame,
            _ => {}
        }
    };
    assert_eq!(err["code"], "rate_limited");
    let wait = err["retry_after_ms"].as_u64().unwrap();
    assert!((1..=2000).contains(&wait), "{wait}");
    // Keep pushing: five refusals in ten seconds earn a 10 s mute.
    for i in 0..4 {
        a.send_json(send(&format!("flood {i}"))).await;
    }
    // Each refusal answers its own send; answers to sends in flight together may arrive in
    // any order.
    let mut codes = Vec::new();
    while codes.len() < 4 || texts.len() < 3 {
        let frame = a.next_json().await;
        match frame["type"].as_str() {
            Some("batch") => texts.extend(texts_of(&frame["items"])),
            Some("error") => {
                codes.push(frame["code"].as_str().unwrap().to_string());
                if frame["code"] == "muted" {
                    let ms = frame["retry_after_ms"].as_u64().unwrap();
                    assert!((9000..=10000).contains(&ms), "{ms}");
                }
            }
            _ => {}
        }
    }
    assert_eq!(texts, ["m0", "m1", "m2"]);
    codes.sort();
    assert_eq!(
        codes,
        ["muted", "rate_limited", "rate_limited", "rate_limited"]
    );
}

async fn the_owner_retracts_a_message_for_everyone(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let bob = app.signed_in_user("bob").await;
    let (mut b, _) = app.viewer(&room, Some(&bob)).await;
    b.send_json(send("something rude")).await;
    let batch = b.next_of_type("batch").await;
    let id = batch["items"][0]["id"].as_str().unwrap().to_string();
    let (mut watcher, _) = app.viewer(&room, None).await;
    // Wait for the writer to store it, then remove it.
    let path = format!("/api/rooms/{room}/danmaku/{id}");
    let mut status = 0;
    for _ in 0..50 {
        status = app
            .json(Method::DELETE, &path, Auth::Bearer(&alice), None)
            .await
            .status
            .as_u16();
        if status == 204 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 204);
    for v in [&mut b, &mut watcher] {
        let retract = v.next_of_type("retract").await;
        assert_eq!(retract["ids"], json!([id]));
    }
    let (_late, hello) = app.viewer(&room, None).await;
    assert!(
        hello["history"].as_array().unwrap().is_empty(),
        "gone from history"
    );
    let again = app
        .json(Method::DELETE, &path, Auth::Bearer(&alice), None)
        .await;
    assert_eq!(again.status, 404);
}

async fn a_ban_mutes_the_user_and_tells_their_sockets(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let bob = app.signed_in_user("bob").await;
    let (mut b1, _) = app.viewer(&room, Some(&bob)).await;
    let (mut b2, _) = app.viewer(&room, Some(&bob)).await;
    let res = app
        .json(
            Method::POST,
            &format!("/api/rooms/{room}/bans"),
            Auth::Bearer(&alice),
            Some(json!({ "user": "bob", "seconds": 60, "reason": "spam" })),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["user"], "bob");
    for socket in [&mut b1, &mut b2] {
        let told = socket.next_of_type("error").await;
        assert_eq!(told["code"], "muted");
        assert!(told["retry_after_ms"].as_u64().unwrap() > 50_000);
    }
    b1.send_json(send("can I talk?")).await;
    assert_eq!(b1.next_of_type("error").await["code"], "muted");
    // The ban is stored: a new room actor after a restart still enforces it.
    let mut app = app;
    app.restart().await;
    let (mut b3, _) = app.viewer(&room, Some(&bob)).await;
    b3.send_json(send("and now?")).await;
    assert_eq!(b3.next_of_type("error").await["code"], "muted");
}

async fn only_the_owner_or_an_admin_moderates(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_alice, room) = room_with_owner(&app, "alice").await;
    let mallory = app.signed_in_user("mallory").await;
    let ban = json!({ "user": "alice", "seconds": 60 });
    let res = app
        .json(
            Method::POST,
            &format!("/api/rooms/{room}/bans"),
            Auth::Bearer(&mallory),
            Some(ban.clone()),
        )
        .await;
    assert_eq!((res.status.as_u16(), res.error_code()), (403, "009"));
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/rooms/{room}/danmaku/x"),
            Auth::Bearer(&mallory),
            None,
        )
        .await;
    assert_eq!(res.status, 403);
    let res = app
        .json(
            Method::POST,
            &format!("/api/rooms/{room}/bans"),
            Auth::None,
            Some(ban),
        )
        .await;
    assert_eq!(res.status, 401);
}

async fn a_foreign_origin_cannot_open_a_socket(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let err = app
        .ws_connect(&room, Some(&alice), Some("http://evil.example"))
        .await
        .err()
        .expect("refused");
    assert!(format!("{err:?}").contains("403"), "{err:?}");
    let own = app.address.clone();
    assert!(app
        .ws_connect(&room, Some(&alice), Some(&own))
        .await
        .is_ok());
    let missing = app
        .ws_connect("no-such-room", None, None)
        .await
        .err()
        .expect("404");
    assert!(format!("{missing:?}").contains("404"), "{missing:?}");
}

async fn online_counts_go_out_when_they_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (mut a, hello) = app.viewer(&room, Some(&alice)).await;
    assert_eq!(hello["online"], 1);
    let (b, hello_b) = app.viewer(&room, None).await;
    assert_eq!(hello_b["online"], 2);
    let started = std::time::Instant::now();
    assert_eq!(a.next_of_type("online").await["count"], 2);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "within about a second"
    );
    drop(b);
    assert_eq!(a.next_of_type("online").await["count"], 1);
    // Nothing changes, nothing is sent.
    assert!(
        a.try_next_json(Duration::from_millis(1500)).await.is_none(),
        "an idle room is silent"
    );
}

fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(-1.0)
}

async fn a_room_without_viewers_stops_and_comes_back_on_demand(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.danmaku.room_idle_secs = 1).await;
    let (alice, room) = room_with_owner(&app, "alice").await;
    let (v, _) = app.viewer(&room, Some(&alice)).await;
    let active = |m: &str| gauge(m, "roomcast_rooms_active");
    assert_eq!(active(&app.page("/metrics", &[]).await.html), 1.0);
    drop(v);
    let mut stopped = false;
    for _ in 0..40 {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        if active(&app.page("/metrics", &[]).await.html) == 0.0 {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "the idle room's actor stopped");
    let (mut again, hello) = app.viewer(&room, Some(&alice)).await;
    assert_eq!(hello["online"], 1);
    again.send_json(send("back")).await;
    assert_eq!(
        again.next_of_type("batch").await["items"][0]["text"],
        "back"
    );
}

/// RFC 6455: a text message sent as a first frame and a continuation is one message (here a
/// `send` split in the middle of its JSON), and a client's Close is answered with a Close
/// echoing its code; the video socket answers a Close the same way.
#[actix_web::test]
async fn a_fragmented_text_message_is_accepted_and_a_close_is_answered() {
    use actix_ws::Item;
    use awc::ws::{CloseCode, CloseReason};
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.signed_in_user("fragments").await;
    let room = app.create_room(&token, "split").await;
    let (mut viewer, _) = app.viewer(&room, Some(&token)).await;
    let whole = br#"{"type":"send","text":"in two frames","mode":"scroll"}"#;
    let (first, last) = whole.split_at(20);
    viewer
        .send(Message::Continuation(Item::FirstText(
            first.to_vec().into(),
        )))
        .await;
    viewer
        .send(Message::Continuation(Item::Last(last.to_vec().into())))
        .await;
    let batch = viewer.next_of_type("batch").await;
    assert_eq!(batch["items"][0]["text"], "in two frames", "{batch}");

    viewer
        .send(Message::Close(Some(CloseReason {
            code: CloseCode::Away,
            description: None,
        })))
        .await;
    assert_eq!(
        viewer.closed_with(Duration::from_secs(5)).await,
        Some(1001),
        "the Close is answered with the client's code"
    );
}
