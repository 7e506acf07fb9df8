//! A viewer that stops reading: its queue stays bounded, others keep receiving, and it is
//! disconnected.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app_with, Backend};

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
    })
    .await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Flood").await;
    let mut slow = silent_viewer(&app.address, &room).await;

    // A fast viewer reads everything on its own task.
    let (mut fast, _) = app.viewer(&room, None).await;
    let total = 45_000usize;
    let reader = actix_web::rt::spawn(async move {
        let mut seen = 0usize;
        while seen < total + 1 {
            let frame = fast.next_of_type("batch").await;
            seen += frame["items"].as_array().unwrap().len();
        }
        (seen, fast)
    });

    // 30,000 messages of 200 characters: about 9 MB for every viewer, more than the
    // server's socket buffer, the connection's channel and the outbox hold together.
    let (mut sender, _) = app.viewer(&room, Some(&alice)).await;
    let text = "x".repeat(200);
    for _ in 0..total {
        sender
            .send_json(json!({ "type": "send", "text": text }))
            .await;
    }
    // Past the stall limit, one more message finds the silent viewer still stuck.
    actix_web::rt::time::sleep(Duration::from_secs(6)).await;
    sender
        .send_json(json!({ "type": "send", "text": "last" }))
        .await;

    let (seen, mut fast) = actix_web::rt::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the fast viewer kept up")
        .unwrap();
    assert_eq!(seen, total + 1, "the fast viewer lost nothing");

    // The silent viewer is closed: draining its socket reaches the end.
    let drained = actix_web::rt::time::timeout(Duration::from_secs(15), async {
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
        drained < 9_000_000,
        "it was not sent everything: {drained} bytes"
    );

    let metrics = app.page("/metrics", &[]).await.html;
    assert!(
        metric(&metrics, "roomcast_danmaku_frames_dropped_total") > 0.0,
        "frames were dropped"
    );
    // The sender never read either and may have been closed too; the fast viewer stays.
    let viewers = metric(&metrics, "roomcast_room_viewers");
    assert!((1.0..=2.0).contains(&viewers), "{viewers}");
    let (mut again, _) = app.viewer(&room, Some(&alice)).await;
    again
        .send_json(json!({ "type": "send", "text": "after the flood" }))
        .await;
    let batch = fast.next_of_type("batch").await;
    assert_eq!(batch["items"][0]["text"], "after the flood");
}
