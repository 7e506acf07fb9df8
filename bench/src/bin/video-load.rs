//! Video WebSocket client for the live benchmark (B3). One thread, many sockets.
//!
//! `join URL N`: opens N sockets one after another and prints the time from each connect
//! to its first fragment (`moof`), as JSON: `{"join_ms": [...]}`.
//! `hold URL N SECS`: holds N sockets for SECS seconds and prints the bytes and fragments
//! they received and how many were closed: `{"bytes": B, "fragments": F, "closed": C}`.
//! `first URL`: opens one socket, prints `connected`, and once the first fragment arrives
//! prints the wall-clock time it arrived (unix ms), so a script can time the start of a
//! stream for a viewer that was already waiting (B7).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

fn is_fragment(data: &[u8]) -> bool {
    data.len() >= 8 && &data[4..8] == b"moof"
}

async fn join(url: &str, n: usize) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        loop {
            match socket.next().await {
                Some(Ok(Message::Binary(data))) if is_fragment(&data) => break,
                Some(Ok(_)) => {}
                _ => panic!("the socket closed before a fragment"),
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(socket);
    }
    let list: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
    println!("{{\"join_ms\": [{}]}}", list.join(","));
}

async fn first(url: &str) {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    println!("connected");
    loop {
        match socket.next().await {
            Some(Ok(Message::Binary(data))) if is_fragment(&data) => break,
            Some(Ok(_)) => {}
            _ => panic!("the socket closed before a fragment"),
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    println!("{}", now.as_millis());
}

async fn hold(url: &str, n: usize, secs: u64) {
    let bytes = Rc::new(Cell::new(0u64));
    let fragments = Rc::new(Cell::new(0u64));
    let closed = Rc::new(Cell::new(0u64));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let (bytes, fragments, closed) = (bytes.clone(), fragments.clone(), closed.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let (_, mut read) = socket.split();
            loop {
                let left = until.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, read.next()).await {
                    Err(_) => return,
                    Ok(Some(Ok(Message::Binary(data)))) => {
                        bytes.set(bytes.get() + data.len() as u64);
                        if is_fragment(&data) {
                            fragments.set(fragments.get() + 1);
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(_) => {
                        closed.set(closed.get() + 1);
                        return;
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    println!(
        "{{\"bytes\": {}, \"fragments\": {}, \"closed\": {}}}",
        bytes.get(),
        fragments.get(),
        closed.get()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: video-load join URL N | video-load hold URL N SECS | video-load first URL";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        match args.first().map(String::as_str) {
            Some("join") => join(&args[1], args[2].parse().expect(usage)).await,
            Some("first") => first(&args[1]).await,
            Some("hold") => {
                hold(
                    &args[1],
                    args[2].parse().expect(usage),
                    args[3].parse().expect(usage),
                )
                .await
            }
            _ => panic!("{usage}"),
        }
    });
}
