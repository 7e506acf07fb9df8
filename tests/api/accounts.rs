//! Registration: `POST /api/users`.

use diesel::prelude::*;
use roomcast::db::schema::users;

use crate::helpers::{spawn_app, Backend};

crate::on_both_backends!(
    registering_returns_201_with_the_new_user,
    a_taken_username_returns_409,
    a_bad_username_returns_400_with_its_error_code,
    a_bad_password_returns_400_with_its_error_code,
    an_unparseable_body_returns_400_with_code_001,
    the_password_column_holds_an_argon2id_phc_string,
    oversized_bodies_wrong_content_types_and_methods_get_json_errors,
);

async fn registering_returns_201_with_the_new_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.register("alice", "password123").await;
    assert_eq!(res.status, 201);
    assert_eq!(res.body["username"], "alice");
    let id = res.body["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "id is a UUID: {id}");
    assert!(res.body.get("password_hash").is_none());
}

async fn a_taken_username_returns_409(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.register("alice", "password123").await.status, 201);
    let res = app.register("alice", "another-password").await;
    assert_eq!(res.status, 409);
    assert_eq!(res.error_code(), "007");
    assert!(res.body["error"].as_str().unwrap().contains("taken"));
}

async fn a_bad_username_returns_400_with_its_error_code(backend: Backend) {
    let app = spawn_app(backend).await;
    // Too short, too long, capitals, a space, a path trick, markup, non-ASCII, empty.
    let long = "a".repeat(33);
    for name in [
        "ab",
        long.as_str(),
        "Alice",
        "al ice",
        "../etc",
        "<b>x</b>",
        "ålice",
        "",
    ] {
        let res = app.register(name, "password123").await;
        assert_eq!(res.status, 400, "{name:?}");
        assert_eq!(res.error_code(), "005", "{name:?}");
    }
}

async fn a_bad_password_returns_400_with_its_error_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let long = "x".repeat(1025);
    for password in ["short", long.as_str()] {
        let res = app.register("bob", password).await;
        assert_eq!(res.status, 400);
        assert_eq!(res.error_code(), "006");
    }
}

async fn an_unparseable_body_returns_400_with_code_001(backend: Backend) {
    let app = spawn_app(backend).await;
    // Not JSON at all, JSON with a missing field, and JSON with a wrong type.
    for body in [
        "{not json",
        r#"{"username":"carol"}"#,
        r#"{"username":1,"password":2}"#,
    ] {
        let mut res = app
            .client
            .post(app.url("/api/users"))
            .insert_header(("Content-Type", "application/json"))
            .send_body(body)
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["error_code"], "001", "{body}");
    }
}

async fn the_password_column_holds_an_argon2id_phc_string(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.register("dave", "password123").await.status, 201);
    let mut conn = app.pool.get().unwrap();
    let stored: String = users::table
        .filter(users::username.eq("dave"))
        .select(users::password_hash)
        .first(&mut conn)
        .unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m="), "{stored}");
    assert!(!stored.contains("password123"));
}

async fn oversized_bodies_wrong_content_types_and_methods_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    // A 100 KiB password inside a JSON body: over the 64 KiB limit for JSON bodies.
    let huge = serde_json::json!({ "username": "eve", "password": "x".repeat(100 * 1024) });
    let mut res = app
        .client
        .post(app.url("/api/users"))
        .send_json(&huge)
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error_code"], "014");
    // A form-encoded body where JSON is expected.
    let mut res = app
        .client
        .post(app.url("/api/users"))
        .send_form(&[("username", "eve"), ("password", "password123")])
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error_code"], "015");
    // GET on a POST-only API route, and POST on a GET-only page.
    let mut res = app.client.get(app.url("/api/users")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error_code"], "013");
    let res = app.post_form("/", &[], &[("x", "y")]).await;
    assert_eq!(res.status, 405);
    assert!(res.html.contains("405"));
    assert_eq!(
        app.login("eve", "password123").await.status,
        401,
        "nothing was created"
    );
}
