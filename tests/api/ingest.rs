//! Live sources: what an admin may set as a room's source, and what is refused.

use awc::http::Method;
use serde_json::json;

use crate::helpers::{spawn_app, Auth, Backend, TestApp};

crate::on_both_backends!(hostile_source_urls_are_refused_and_good_ones_kept_without_credentials);

async fn admin(app: &TestApp, name: &str) -> String {
    let token = app.signed_in_user(name).await;
    let mut conn = app.pool.get().unwrap();
    assert!(roomcast::db::users::set_role(&mut conn, name, "admin").unwrap());
    token
}

async fn hostile_source_urls_are_refused_and_good_ones_kept_without_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = admin(&app, "root").await;
    let user = app.signed_in_user("alice").await;
    // Tried: every ffmpeg protocol trick we know of, local files, nested URLs, other schemes.
    for bad in [
        "concat:http://a/1.ts|http://a/2.ts",
        "subfile,,start,0,end,100,,:/etc/passwd",
        "pipe:0",
        "data:video/mp4;base64,AAAA",
        "file:/etc/passwd",
        "/etc/passwd",
        "tcp://127.0.0.1:1234",
        "hls+http://h/x.m3u8",
        "http://h/x?u=file:///etc/passwd",
        "rtsp://h/a|file:/etc/passwd",
        "rtsp://",
        "gopher://h/",
    ] {
        let res = app
            .json(
                Method::POST,
                "/api/rooms",
                Auth::Bearer(&root),
                Some(json!({"title": "Cam", "source_url": bad})),
            )
            .await;
        assert_eq!(
            (res.status.as_u16(), res.error_code()),
            (400, "016"),
            "{bad}"
        );
    }
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&user),
            Some(json!({"title": "Cam", "source_url": "rtsp://cam/x"})),
        )
        .await;
    assert_eq!(res.status, 403, "only admins give rooms sources");

    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&root),
            Some(
                json!({"title": "Gate", "source_url": "rtsp://admin:hunter2@127.0.0.1:8554/gate"}),
            ),
        )
        .await;
    assert_eq!(res.status, 201, "{:?}", res.body);
    let id = res.body["id"].as_str().unwrap().to_string();
    assert!(res.body["has_source"].as_bool().unwrap());
    assert!(!res.body.to_string().contains("hunter2"), "{}", res.body);

    // PATCH: admins only; the same rules; null removes the source.
    let path = format!("/api/rooms/{id}");
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&user),
            Some(json!({"on_demand": true})),
        )
        .await;
    assert_eq!(res.status, 403);
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&root),
            Some(json!({"source_url": "pipe:1"})),
        )
        .await;
    assert_eq!(res.status, 400);
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&root),
            Some(json!({"title": "Gate 2", "on_demand": true})),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(
        (res.body["title"].as_str(), res.body["on_demand"].as_bool()),
        (Some("Gate 2"), Some(true))
    );
    assert!(
        res.body["has_source"].as_bool().unwrap(),
        "an absent field is left alone"
    );
    let res = app
        .json(
            Method::PATCH,
            &path,
            Auth::Bearer(&root),
            Some(json!({"source_url": null})),
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(!res.body["has_source"].as_bool().unwrap());
    let res = app
        .json(
            Method::PATCH,
            "/api/rooms/nope",
            Auth::Bearer(&root),
            Some(json!({"on_demand": true})),
        )
        .await;
    assert_eq!(res.status, 404);
}
