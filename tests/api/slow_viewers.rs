//! A viewer that stops reading: its queue stays bounded, others keep receiving, and it is
//! disconnected.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{eventually, spawn_app_with, Backend};

/// Opens a WebSocket by hand and never reads from it after the handshake.
async fn silent_viewer(address: &str, room: &str) -> tokio::net::TcpStream {
    let host = address.trim_start_matches("http://");
    // A small receive buffer, so the kernel holds little on the viewer's side.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(host.parse().unwrap()).await.unwrap();
    let request = format!(
        "GET /ws/rooms/{room} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[actix_web::test]
async fn a_viewer_that_stops_reading_is_bounded_then_closed_while_others_keep_up() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.danmaku.window_ms = 10;
        s.danmaku.rate = "1000000/1s".into();
        // Degraded first, then closed: with frames arriving even slowly on a loaded machine,
        // the queue overflows (old batches dropped) well before 10 s without progress, and
        // a heartbeat every 2 s then finds the viewer past its lag limit.
        s.ws.max_lag_ms = 10_000;
        s.ws.ping_ms = 2_000;
    })
    .await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Flood").await;
    let mut slow = silent_viewer(&app.address, &room).await;

    // A fast viewer reads everything on its own task, counting items without parsing.
    let (mut fast, _) = app.viewer(&room, None).await;
    let total = 45_000usize;
    let seen = Rc::new(Cell::new(0usize));
    let counter = Rc::clone(&seen);
    let reader = actix_web::rt::spawn(async move {
        loop {
            match fast.next_frame(Duration::from_secs(20)).await {
                Some(awc::ws::Frame::Text(bytes)) => {
                    let text = std::str::from_utf8(&bytes).unwrap();
                    if text.starts_with(r#"{"type":"batch""#) {
                        counter.set(counter.get() + text.matches(r#""id":"#).count());
                        if text.contains(r#""text":"last""#) {
                            break;
                        }
                    }
                }
                Some(awc::ws::Frame::Ping(p)) => fast.send(awc::ws::Message::Pong(p)).await,
                Some(_) => {}
                None => break,
            }
        }
        (counter.get(), fast)
    });

    // 45,000 messages of 200 characters: about 13 MB for every viewer, more than the
    // server's socket buffer (4 MB here), the connection's channel and the outbox hold
    // together. The sender keeps pace with the fast viewer (a reader that keeps up), not
    // with the silent one.
    let (mut sender, _) = app.viewer(&room, Some(&alice)).await;
    let text = "x".repeat(200);
    const CHUNK: usize = 3000;
    for chunk in 1..=total / CHUNK {
        for _ in 0..CHUNK {
            let frame = json!({ "type": "send", "text": text });
            let sent = sender
                .try_send(awc::ws::Message::Text(frame.to_string().into()))
                .await;
            if sent.is_err() {
                // The sender never reads either: the server may close it as too far behind
                // (and end its connection). Like a real client, it reconnects.
                sender = app.viewer(&room, Some(&alice)).await.0;
            }
        }
        for _ in 0..400 {
            if seen.get() + CHUNK >= chunk * CHUNK {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }
    // The last message goes out on a fresh socket: the flooding one never reads either, so
    // by now the server may have closed it as too far behind.
    drop(sender);
    let (mut last_sender, _) = app.viewer(&room, Some(&alice)).await;
    last_sender
        .send_json(json!({ "type": "send", "text": "last" }))
        .await;

    // Generous: other tests (live video among them) share the machine's two cores.
    let (seen, mut fast) = actix_web::rt::time::timeout(Duration::from_secs(90), reader)
        .await
        .expect("the fast viewer received the last message")
        .unwrap();
    // A reader that keeps up loses nothing; on a loaded machine it may itself fall behind
    // for a moment and lose a few old batches, which is the design, not a fault.
    assert!(
        seen > total / 2,
        "the fast viewer kept receiving: {seen} of {}",
        total + 1
    );

    // The silent viewer is closed (found past `ws.max_lag_ms` by the next push or heartbeat):
    // draining its socket reaches the end.
    let drained = actix_web::rt::time::timeout(Duration::from_secs(25), async {
        let mut buf = vec![0u8; 1 << 16];
        let mut bytes = 0usize;
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return bytes,
                Ok(n) => bytes += n,
            }
        }
    })
    .await
    .expect("the server closed the silent viewer");
    assert!(
        drained < 13_000_000,
        "it was not sent everything: {drained} bytes"
    );

    // Its queue overflowed (old batches dropped), or, on a machine so loaded that frames
    // came too slowly to fill it, it was closed for making no progress first: then it was
    // sent little more than the server's socket buffer (4 MB) holds.
    let metrics = app.page("/metrics", &[]).await.html;
    let dropped = metric(&metrics, "roomcast_danmaku_frames_dropped_total");
    assert!(
        dropped > 0.0 || drained < 6_000_000,
        "neither were frames dropped ({dropped}) nor was it closed early ({drained} bytes)"
    );
    // The flooding sender, dropped by the client, and the silent viewer are let go once
    // the server sees their ends; the fast viewer and the last sender stay.
    eventually(
        Duration::from_secs(20),
        "only the fast viewer and the last sender remain",
        || async {
            let metrics = app.page("/metrics", &[]).await.html;
            (1.0..=2.0).contains(&metric(&metrics, "roomcast_room_viewers"))
        },
    )
    .await;
    let (mut again, _) = app.viewer(&room, Some(&alice)).await;
    again
        .send_json(json!({ "type": "send", "text": "after the flood" }))
        .await;
    // Flood messages the dropped sender's socket still held may come first.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let frame = fast
            .try_next_json(left)
            .await
            .expect("the fast viewer receives the message sent after the flood");
        let items = frame["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|i| i["text"] == "after the flood") {
            break;
        }
    }
}
