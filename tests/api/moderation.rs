//! Room moderation: word filters (a room's and the site's), moderators the owner names,
//! the list of bans and lifting them, and slow mode, over real sockets.

use std::time::Duration;

use awc::http::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Auth, Backend, TestApp, WsClient};

crate::on_both_backends!(
    filters_refuse_chinese_full_width_and_mixed_case_and_nothing_filtered_reaches_anyone,
    filter_lists_are_edited_by_moderators_and_bad_lists_change_nothing,
    moderators_named_by_the_owner_moderate_and_others_cannot,
    a_lifted_ban_lets_the_user_send_again,
    slow_mode_refuses_with_the_wait_left_and_spares_moderators,
    the_sites_words_hold_for_video_danmaku_too,
);

/// A server whose flood limit stays out of the way of these tests.
async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.danmaku.rate = "1000/1s".into()).await
}

fn send(text: &str) -> Value {
    json!({ "type": "send", "text": text })
}

async fn user_id(app: &TestApp, token: &str) -> String {
    let me = app.me(Auth::Bearer(token)).await;
    me.body["id"].as_str().unwrap().to_string()
}

/// Reads frames until the next `error` or `batch`, skipping the rest.
async fn next_outcome(ws: &mut WsClient) -> Value {
    loop {
        let frame = ws.next_json().await;
        if frame["type"] == "error" || frame["type"] == "batch" {
            return frame;
        }
    }
}

/// Sends `text` and returns the error code it earned, or "" when it came back in a batch
/// (batches of other messages are skipped).
async fn outcome(ws: &mut WsClient, text: &str) -> String {
    ws.send_json(send(text)).await;
    loop {
        let frame = next_outcome(ws).await;
        if frame["type"] == "error" {
            return frame["code"].as_str().unwrap().to_string();
        }
        let items = frame["items"].as_array().unwrap();
        if items.iter().any(|i| i["text"] == text) {
            return String::new();
        }
    }
}

async fn put_words(
    app: &TestApp,
    path: &str,
    token: &str,
    words: Value,
) -> crate::helpers::JsonResponse {
    app.json(
        Method::PUT,
        path,
        Auth::Bearer(token),
        Some(json!({ "words": words })),
    )
    .await
}

async fn filters_refuse_chinese_full_width_and_mixed_case_and_nothing_filtered_reaches_anyone(
    backend: Backend,
) {
    let app = app(backend).await;
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Filtered").await;
    let bob = app.signed_in_user("bob").await;
    let (mut b, _) = app.viewer(&room, Some(&bob)).await;
    let (mut watcher, _) = app.viewer(&room, None).await;

    let path = format!("/api/rooms/{room}/filters");
    let res = put_words(&app, &path, &alice, json!(["垃圾", "Spam", "ｶﾀｶﾅ"])).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.body["words"],
        json!(["spam", "カタカナ", "垃圾"]),
        "stored folded"
    );
    let res = put_words(&app, "/api/admin/filters", &root, json!(["ＢＡＤＷＯＲＤ"])).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["words"], json!(["badword"]));

    // Each variant is refused with `filtered`, the room's words and the site's alike.
    for text in [
        "这是垃圾信息",
        "buy SPAM now",
        "ｓｐａｍ",
        "ＳｐＡｍ!",
        "カタカナ",
        "a BadWord here",
        "ｂａｄｗｏｒｄ",
    ] {
        assert_eq!(outcome(&mut b, text).await, "filtered", "{text}");
    }
    assert_eq!(outcome(&mut b, "垃 圾 are two words").await, "");
    assert_eq!(outcome(&mut b, "hello 你好").await, "");

    // The watcher got only what passed, and so does history.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let frame = next_outcome(&mut watcher).await;
        for item in frame["items"].as_array().unwrap() {
            seen.push(item["text"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ["垃 圾 are two words", "hello 你好"]);
    crate::helpers::eventually(Duration::from_secs(5), "both saved", || async {
        let stored = app
            .json(
                Method::GET,
                &format!("/api/rooms/{room}/danmaku"),
                Auth::None,
                None,
            )
            .await;
        stored.body["items"].as_array().unwrap().len() == 2
    })
    .await;
    let stored = app
        .json(
            Method::GET,
            &format!("/api/rooms/{room}/danmaku"),
            Auth::None,
            None,
        )
        .await;
    let texts: Vec<&str> = stored.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["垃 圾 are two words", "hello 你好"]);
    let metrics = app.page("/metrics", &[]).await.html;
    assert!(
        metrics.contains(r#"roomcast_danmaku_rejected_total{reason="filtered"} 7"#),
        "{metrics}"
    );

    // The filter holds for a new room actor after a restart (it is stored).
    let mut app = app;
    app.restart().await;
    let (mut b2, _) = app.viewer(&room, Some(&bob)).await;
    assert_eq!(outcome(&mut b2, "还是垃圾").await, "filtered");
    assert_eq!(outcome(&mut b2, "badword").await, "filtered");
    // Emptying the lists lets the words through again.
    assert_eq!(put_words(&app, &path, &alice, json!([])).await.status, 200);
    assert_eq!(outcome(&mut b2, "垃圾 now allowed").await, "");
}

async fn filter_lists_are_edited_by_moderators_and_bad_lists_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Lists").await;
    let mallory = app.signed_in_user("mallory").await;
    let path = format!("/api/rooms/{room}/filters");
    assert_eq!(
        put_words(&app, &path, &alice, json!(["one"])).await.status,
        200
    );

    // Tried: a list from someone who does not moderate the room, and the site's list from
    // a non-admin: refused, nothing changed.
    let res = put_words(&app, &path, &mallory, json!([])).await;
    assert_eq!((res.status.as_u16(), res.error_code()), (403, "009"));
    let res = app
        .json(Method::GET, &path, Auth::Bearer(&mallory), None)
        .await;
    assert_eq!(res.status, 403);
    let res = put_words(&app, "/api/admin/filters", &alice, json!(["x"])).await;
    assert_eq!(res.status, 403);
    let res = app.json(Method::GET, &path, Auth::None, None).await;
    assert_eq!(res.status, 401);
    // Tried: a word too long, and a body that is not a list of strings: 400, list kept.
    let res = put_words(&app, &path, &alice, json!(["ok", "x".repeat(51)])).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert!(
        res.body["error"].as_str().unwrap().contains("at most 50"),
        "{}",
        res.body
    );
    let res = put_words(&app, &path, &alice, json!("one")).await;
    assert_eq!(res.status, 400);
    let res = app
        .json(Method::GET, &path, Auth::Bearer(&alice), None)
        .await;
    assert_eq!(res.body["words"], json!(["one"]));
    // An unknown room.
    let res = put_words(&app, "/api/rooms/nope/filters", &root, json!([])).await;
    assert_eq!(res.status, 404);
    // Admins read and edit any room's list, and the site's.
    let res = app
        .json(Method::GET, &path, Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.body["words"], json!(["one"]));
    assert_eq!(
        put_words(&app, "/api/admin/filters", &root, json!(["two"]))
            .await
            .status,
        200
    );
    let res = app
        .json(Method::GET, "/api/admin/filters", Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.body["words"], json!(["two"]));
}

async fn moderators_named_by_the_owner_moderate_and_others_cannot(backend: Backend) {
    let app = app(backend).await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Team").await;
    let carol = app.signed_in_user("carol").await;
    let bob = app.signed_in_user("bob").await;
    let mods = format!("/api/rooms/{room}/moderators");
    let name = |who: &str| json!({ "username": who });

    // Tried: bob (no one) naming himself, and carol banning before she is named.
    let res = app
        .json(Method::POST, &mods, Auth::Bearer(&bob), Some(name("bob")))
        .await;
    assert_eq!(res.status, 403);
    let bans = format!("/api/rooms/{room}/bans");
    let ban_bob = json!({ "user": "bob", "seconds": 60 });
    let res = app
        .json(
            Method::POST,
            &bans,
            Auth::Bearer(&carol),
            Some(ban_bob.clone()),
        )
        .await;
    assert_eq!(res.status, 403);

    let res = app
        .json(
            Method::POST,
            &mods,
            Auth::Bearer(&alice),
            Some(name("carol")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let res = app
        .json(
            Method::POST,
            &mods,
            Auth::Bearer(&alice),
            Some(name("carol")),
        )
        .await;
    assert_eq!(res.status, 200, "naming her again changes nothing");
    let res = app
        .json(
            Method::POST,
            &mods,
            Auth::Bearer(&alice),
            Some(name("nobody")),
        )
        .await;
    assert_eq!(res.status, 404);
    let res = app
        .json(
            Method::POST,
            &mods,
            Auth::Bearer(&alice),
            Some(name("alice")),
        )
        .await;
    assert_eq!(res.status, 400, "the owner moderates already");
    let res = app
        .json(Method::GET, &mods, Auth::Bearer(&alice), None)
        .await;
    let listed: Vec<&str> = res.body["moderators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["carol"]);

    // Carol now retracts, bans and edits filters in this room...
    let (mut b, _) = app.viewer(&room, Some(&bob)).await;
    b.send_json(send("rude")).await;
    let id = next_outcome(&mut b).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let retract = format!("/api/rooms/{room}/danmaku/{id}");
    crate::helpers::eventually(Duration::from_secs(5), "carol retracts", || async {
        app.json(Method::DELETE, &retract, Auth::Bearer(&carol), None)
            .await
            .status
            == 204
    })
    .await;
    let res = app
        .json(
            Method::POST,
            &bans,
            Auth::Bearer(&carol),
            Some(ban_bob.clone()),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let filters = format!("/api/rooms/{room}/filters");
    assert_eq!(
        put_words(&app, &filters, &carol, json!(["x"])).await.status,
        200
    );
    let res = app
        .json(Method::GET, &bans, Auth::Bearer(&carol), None)
        .await;
    assert_eq!(res.body["bans"][0]["username"], "bob");
    // ...but does not name moderators, and cannot ban another moderator or the owner.
    let res = app
        .json(Method::POST, &mods, Auth::Bearer(&carol), Some(name("bob")))
        .await;
    assert_eq!(res.status, 403);
    let dave = app.signed_in_user("dave").await;
    let res = app
        .json(
            Method::POST,
            &mods,
            Auth::Bearer(&alice),
            Some(name("dave")),
        )
        .await;
    assert_eq!(res.status, 201);
    let ban_dave = json!({ "user": "dave", "seconds": 60 });
    let res = app
        .json(Method::POST, &bans, Auth::Bearer(&carol), Some(ban_dave))
        .await;
    assert_eq!(res.status, 403, "{}", res.body);
    let ban_alice = json!({ "user": "alice", "seconds": 60 });
    let res = app
        .json(Method::POST, &bans, Auth::Bearer(&carol), Some(ban_alice))
        .await;
    assert_eq!(res.status, 403);
    drop(dave);
    // Carol moderates this room only.
    let other = app.create_room(&alice, "Elsewhere").await;
    let res = app
        .json(
            Method::POST,
            &format!("/api/rooms/{other}/bans"),
            Auth::Bearer(&carol),
            Some(ban_bob.clone()),
        )
        .await;
    assert_eq!(res.status, 403);

    // Removed, she moderates no more (and removing her again finds nobody).
    let carol_mod = format!("{mods}/carol");
    for expected in [204, 404] {
        let res = app
            .json(Method::DELETE, &carol_mod, Auth::Bearer(&alice), None)
            .await;
        assert_eq!(res.status, expected);
    }
    let res = app
        .json(Method::POST, &bans, Auth::Bearer(&carol), Some(ban_bob))
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(
        put_words(&app, &filters, &carol, json!([])).await.status,
        403
    );
}

async fn a_lifted_ban_lets_the_user_send_again(backend: Backend) {
    let app = app(backend).await;
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Second chances").await;
    let bob = app.signed_in_user("bob").await;
    let bob_id = user_id(&app, &bob).await;
    let (mut b, _) = app.viewer(&room, Some(&bob)).await;
    let bans = format!("/api/rooms/{room}/bans");
    let res = app
        .json(
            Method::POST,
            &bans,
            Auth::Bearer(&alice),
            Some(json!({ "user": "bob", "seconds": 3600, "reason": "spam" })),
        )
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(next_outcome(&mut b).await["code"], "muted");
    assert_eq!(outcome(&mut b, "let me talk").await, "muted");
    let res = app
        .json(Method::GET, &bans, Auth::Bearer(&alice), None)
        .await;
    assert_eq!(res.status, 200);
    let listed = &res.body["bans"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["user_id"], bob_id.as_str());
    assert_eq!(listed[0]["username"], "bob");
    assert_eq!(listed[0]["reason"], "spam");
    // Tried: bob listing or lifting his own ban.
    assert_eq!(
        app.json(Method::GET, &bans, Auth::Bearer(&bob), None)
            .await
            .status,
        403
    );
    let lift = format!("{bans}/{bob_id}");
    assert_eq!(
        app.json(Method::DELETE, &lift, Auth::Bearer(&bob), None)
            .await
            .status,
        403
    );
    assert_eq!(outcome(&mut b, "still me").await, "muted");

    let res = app
        .json(Method::DELETE, &lift, Auth::Bearer(&alice), None)
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!(outcome(&mut b, "thank you").await, "");
    let res = app
        .json(Method::GET, &bans, Auth::Bearer(&alice), None)
        .await;
    assert_eq!(res.body["bans"], json!([]));
    let res = app
        .json(Method::DELETE, &lift, Auth::Bearer(&alice), None)
        .await;
    assert_eq!(res.status, 404, "nothing left to lift");
    // Lifted for good: a new room actor after a restart does not mute him.
    let mut app = app;
    app.restart().await;
    let (mut b2, _) = app.viewer(&room, Some(&bob)).await;
    assert_eq!(outcome(&mut b2, "after the restart").await, "");
    // An admin's unban is audited.
    let res = app
        .json(
            Method::POST,
            &bans,
            Auth::Bearer(&root),
            Some(json!({ "user": "bob", "seconds": 60 })),
        )
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(
        app.json(Method::DELETE, &lift, Auth::Bearer(&root), None)
            .await
            .status,
        204
    );
    let mut conn = app.pool.get().unwrap();
    let entries = roomcast::db::audit::recent(&mut conn, 10).unwrap();
    assert!(entries
        .iter()
        .any(|e| e.action == "user.unban" && e.target == bob_id));
}

async fn slow_mode_refuses_with_the_wait_left_and_spares_moderators(backend: Backend) {
    let app = app(backend).await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&alice, "Slow").await;
    let bob = app.signed_in_user("bob").await;
    let (mut b, hello) = app.viewer(&room, Some(&bob)).await;
    assert_eq!(hello["slow_mode_secs"], 0);
    let (mut a, _) = app.viewer(&room, Some(&alice)).await;
    let path = format!("/api/rooms/{room}");
    let slow = |secs: Value| json!({ "slow_mode_secs": secs });

    // Tried: bob turning it on, and values out of range.
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&bob),
            Some(slow(json!(5))),
        )
        .await;
    assert_eq!(res.status, 403);
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&alice),
            Some(slow(json!(3601))),
        )
        .await;
    assert_eq!(res.status, 400);
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&alice),
            Some(slow(json!(-1))),
        )
        .await;
    assert_eq!(res.status, 400);

    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&alice),
            Some(slow(json!(30))),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["slow_mode_secs"], 30);
    let told = loop {
        let frame = b.next_json().await;
        if frame["type"] == "rules" {
            break frame;
        }
    };
    assert_eq!(told["slow_mode_secs"], 30);
    let (_late, hello) = app.viewer(&room, None).await;
    assert_eq!(hello["slow_mode_secs"], 30);

    assert_eq!(outcome(&mut b, "first").await, "");
    b.send_json(send("second")).await;
    let err = next_outcome(&mut b).await;
    assert_eq!(err["code"], "rate_limited", "{err}");
    let wait = err["retry_after_ms"].as_u64().unwrap();
    assert!((25_000..=30_000).contains(&wait), "{wait}");
    // The owner is exempt.
    for text in ["owner one", "owner two"] {
        assert_eq!(outcome(&mut a, text).await, "");
    }
    // So is a moderator the owner names while slow mode is on.
    let carol = app.signed_in_user("carol").await;
    let (mut c, _) = app.viewer(&room, Some(&carol)).await;
    assert_eq!(outcome(&mut c, "carol one").await, "");
    assert_eq!(outcome(&mut c, "carol two").await, "rate_limited");
    let mods = format!("/api/rooms/{room}/moderators");
    let res = app
        .json(
            Method::POST,
            &mods,
            Auth::Bearer(&alice),
            Some(json!({ "username": "carol" })),
        )
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(outcome(&mut c, "carol three").await, "");
    // Off again: bob sends at once.
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&alice),
            Some(slow(json!(0))),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(outcome(&mut b, "free again").await, "");
}

async fn the_sites_words_hold_for_video_danmaku_too(backend: Backend) {
    let app = app(backend).await;
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    let video = app
        .ready_video(&alice, crate::media::Fixture::LateMoov)
        .await;
    let path = format!("/api/videos/{}/danmaku", video["id"].as_str().unwrap());
    let res = put_words(&app, "/api/admin/filters", &root, json!(["广告"])).await;
    assert_eq!(res.status, 200);
    let post = |text: &str| {
        app.json(
            Method::POST,
            &path,
            Auth::Bearer(&alice),
            Some(json!({ "ts_ms": 100, "text": text })),
        )
    };
    // Tried: the word inside Chinese text, and in full-width form inside a sentence.
    for text in ["看广告啦", "ａ广告ｂ"] {
        let res = post(text).await;
        assert_eq!(
            (res.status.as_u16(), res.error_code()),
            (422, "032"),
            "{text}"
        );
    }
    assert_eq!(post("nothing wrong").await.status, 201);
    let stored = app.json(Method::GET, &path, Auth::None, None).await;
    let texts: Vec<&str> = stored.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["nothing wrong"], "nothing filtered was kept");
}
