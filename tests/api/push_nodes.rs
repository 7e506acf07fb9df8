//! Going live across nodes (PostgreSQL + NATS): the node an encoder reaches holds the room
//! and viewers on every node get its video over the bus; a second publisher on another
//! node is refused; a kick through any node cuts the publisher off; an encoder that
//! reconnects through another node takes the room over there, and viewers keep watching
//! without reconnecting.

use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::{json, Value};

use crate::cluster::{
    call, live_until, login, node_id, open_room, services, until_new_stream, watch, Cluster, Node,
};
use crate::helpers::{eventually, ws_connect_at};
use crate::live_sources::free_port;
use crate::push::{refused, Publisher};

/// A node with its own RTMP listener; returns it and the listener's port.
fn node_with_rtmp(cluster: &Cluster, name: &'static str) -> (Node, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let node = cluster.start_with(name, &[("ROOMCAST__INGEST__RTMP_ADDR", &addr)]);
    (node, port)
}

async fn refused_on(node: &Node, reason: &str) -> u64 {
    refused(&node.get("/metrics", &[]).await, reason)
}

/// The room's `live` as its owner sees it through `node`.
async fn owners_live(node: &Node, token: &str, room: &str) -> Value {
    let path = format!("/api/rooms/{room}");
    call(node, Method::GET, &path, Some(token), None).await.1["live"].clone()
}

#[actix_web::test]
async fn a_push_through_one_node_plays_on_another_and_moves_with_the_encoder() {
    let Some((pg, nats)) = services() else { return };
    let cluster = Cluster::new(&pg, &nats);
    let (mut a, port_a) = node_with_rtmp(&cluster, "a");
    let (b, port_b) = node_with_rtmp(&cluster, "b");
    let (id_a, id_b) = (node_id(&a).await, node_id(&b).await);
    cluster.add_user("alice", false);
    let alice = login(&a, "alice").await;
    let room = open_room(&a, &alice, json!({"title": "On two nodes"})).await;
    let path = format!("/api/rooms/{room}/stream-key");
    let (status, key) = call(&a, Method::GET, &path, Some(&alice), None).await;
    assert_eq!(status, 200, "{key}");
    let key = key["key"].as_str().unwrap().to_string();

    // A viewer on node a waits; the encoder reaches node b.
    let video = format!("/ws/rooms/{room}/video");
    let mut on_a = ws_connect_at(&a.address, &video, None, None)
        .await
        .expect("the video socket opens");
    live_until(&a, &room, "waiting", |l| l["state"] == "waiting").await;
    let mut through_b =
        Publisher::start(&format!("rtmp://127.0.0.1:{port_b}/live/{key}"), "libx264");
    until_new_stream(&mut on_a, Duration::from_secs(30)).await;
    live_until(&a, &room, "the room running on b", |l| {
        l["state"] == "running" && l["node"] == id_b.as_str()
    })
    .await;
    // Node a lists it live, and its owner sees the publisher through node a.
    let html = a.get("/live", &[]).await;
    assert!(
        html.contains("data-testid=\"live-badge\""),
        "a lists it live"
    );
    let what = "the publisher's details through node a";
    eventually(Duration::from_secs(10), what, || async {
        owners_live(&a, &alice, &room).await["publisher"]["video"]["codec"] == "h264"
    })
    .await;
    let public = live_until(&a, &room, "running", |l| l["state"] == "running").await;
    assert!(public.get("publisher").is_none(), "visitors do not see it");

    // A second encoder through node a is refused while b's is live, and b's keeps going.
    let before = refused_on(&a, "busy").await;
    let mut second = Publisher::start(&format!("rtmp://127.0.0.1:{port_a}/live/{key}"), "libx264");
    eventually(
        Duration::from_secs(20),
        "the second encoder is turned away",
        || std::future::ready(second.ended()),
    )
    .await;
    assert_eq!(refused_on(&a, "busy").await, before + 1);
    assert!(!through_b.ended(), "the first encoder keeps streaming");

    // The owner kicks through node a: node b cuts its publisher off.
    let kick = format!("/api/rooms/{room}/ingest/kick");
    let (status, body) = call(&a, Method::POST, &kick, Some(&alice), None).await;
    assert_eq!(status, 202, "{body}");
    eventually(Duration::from_secs(20), "b's publisher is cut off", || {
        std::future::ready(through_b.ended())
    })
    .await;
    live_until(&a, &room, "waiting again", |l| l["state"] == "waiting").await;

    // The encoder comes back through node a: a takes the room over; a's viewer gets the new
    // stream on the socket it has, and a viewer on b watches a's stream.
    let _through_a = Publisher::start(&format!("rtmp://127.0.0.1:{port_a}/live/{key}"), "libx264");
    until_new_stream(&mut on_a, Duration::from_secs(30)).await;
    let (mut on_b, seen) = watch(&b, &room, 3, Duration::from_secs(30)).await;
    assert_eq!(seen[0], b"ftyp", "b's viewer starts at the init segment");
    assert!(seen[1..].iter().all(|k| k == b"moof"));
    live_until(&b, &room, "the room running on a", |l| {
        l["state"] == "running" && l["node"] == id_a.as_str()
    })
    .await;

    // Node a dies with its publisher. The encoder retries (as OBS does) through b: turned
    // away while a's lease lasts, let in once it expires; b's viewer gets b's stream.
    a.crash();
    let url_b = format!("rtmp://127.0.0.1:{port_b}/live/{key}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut retry = Publisher::start(&url_b, "libx264");
    loop {
        let (_, body) = call(&b, Method::GET, &format!("/api/rooms/{room}"), None, None).await;
        if body["live"]["state"] == "running" && body["live"]["node"] == id_b.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "b never took the room: {body}");
        if retry.ended() {
            retry = Publisher::start(&url_b, "libx264");
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    until_new_stream(&mut on_b, Duration::from_secs(30)).await;
}
