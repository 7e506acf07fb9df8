//! Sessions: login, the three ways to present a token, expiry, logout, throttling and
//! persistence across a restart.

use std::time::Duration;

use awc::http::Method;
use diesel::prelude::*;
use roomcast::db::schema::sessions;
use roomcast::jobs::DeleteExpiredSessions;

use crate::helpers::{eventually, spawn_app, spawn_app_with, Auth, Backend};

crate::on_both_backends!(
    login_returns_201_with_a_token_and_a_session_cookie,
    a_wrong_password_or_unknown_user_returns_401_with_code_002,
    me_works_with_cookie_bearer_and_x_session_id,
    a_forged_token_is_refused,
    an_expired_token_is_refused,
    an_active_session_slides_forward,
    a_logged_out_token_is_refused_at_once,
    repeated_failures_are_throttled_with_retry_after,
    a_session_survives_a_server_restart,
    only_the_hash_of_the_token_is_stored,
    the_reaper_deletes_expired_sessions,
);

async fn login_returns_201_with_a_token_and_a_session_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("alice", "password123").await;
    let res = app.login("alice", "password123").await;
    assert_eq!(res.status, 201);
    let token = res.body["token"].as_str().unwrap();
    assert_eq!(token.len(), 64, "a 256-bit token, hex-encoded");
    let expires =
        chrono::DateTime::parse_from_rfc3339(res.body["expires_at"].as_str().unwrap()).unwrap();
    let ttl = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!((1790..=1800).contains(&ttl.num_seconds()), "{ttl}");
    let cookie = res.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with(&format!("roomcast_session={token}")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

async fn a_wrong_password_or_unknown_user_returns_401_with_code_002(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("alice", "password123").await;
    for (user, password) in [("alice", "wrong-password"), ("nobody", "password123")] {
        let res = app.login(user, password).await;
        assert_eq!(res.status, 401, "{user}");
        assert_eq!(res.error_code(), "002", "{user}");
        assert!(res.header("set-cookie").is_none());
    }
}

async fn me_works_with_cookie_bearer_and_x_session_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    for auth in [
        Auth::Cookie(&token),
        Auth::Bearer(&token),
        Auth::SessionIdHeader(&token),
    ] {
        let res = app.me(auth).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body["username"], "alice");
        assert_eq!(res.body["role"], "user");
    }
    let res = app.me(Auth::None).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.error_code(), "002");
}

async fn a_forged_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let real = app.signed_in_user("alice").await;
    // A random token of the right shape, the real one with a flipped digit, the seed's
    // "anyone can claim a session id" trick, garbage, and an oversized header.
    let flipped = format!(
        "{}{}",
        &real[..63],
        if real.ends_with('0') { '1' } else { '0' }
    );
    let huge = "a".repeat(5000);
    for forged in [
        roomcast::auth::token::random_token(),
        flipped,
        "1".into(),
        "' OR 1=1 --".into(),
        huge,
    ] {
        for auth in [
            Auth::Bearer(&forged),
            Auth::SessionIdHeader(&forged),
            Auth::Cookie(&forged),
        ] {
            let res = app.me(auth).await;
            assert_eq!(res.status, 401, "{forged:.20}");
            assert_eq!(res.error_code(), "002");
        }
    }
}

async fn an_expired_token_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.sessions.ttl_secs = 2).await;
    let token = app.signed_in_user("alice").await;
    assert_eq!(app.me(Auth::Bearer(&token)).await.status, 200);
    // Asking would slide the session: watch its stored expiry instead, then ask once.
    eventually(
        Duration::from_secs(10),
        "the session's expiry passes",
        || async {
            let mut conn = app.pool.get().unwrap();
            let expires: chrono::NaiveDateTime = sessions::table
                .select(sessions::expires_at)
                .first(&mut conn)
                .unwrap();
            expires < chrono::Utc::now().naive_utc()
        },
    )
    .await;
    let res = app.me(Auth::Bearer(&token)).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.error_code(), "002");
}

async fn an_active_session_slides_forward(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.sessions.ttl_secs = 2).await;
    let token = app.signed_in_user("alice").await;
    // Used every 0.7 s for 4 s: twice the lifetime, and still valid.
    for _ in 0..6 {
        actix_web::rt::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(app.me(Auth::Bearer(&token)).await.status, 200);
    }
}

async fn a_logged_out_token_is_refused_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    assert_eq!(app.me(Auth::Bearer(&token)).await.status, 200, "cached now");
    let res = app
        .json(
            Method::DELETE,
            "/api/sessions/current",
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(res.status, 204);
    assert!(res
        .header("set-cookie")
        .unwrap()
        .starts_with("roomcast_session=;"));
    for auth in [Auth::Bearer(&token), Auth::Cookie(&token)] {
        assert_eq!(app.me(auth).await.status, 401);
    }
    let again = app
        .json(
            Method::DELETE,
            "/api/sessions/current",
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(again.status, 401);
}

async fn repeated_failures_are_throttled_with_retry_after(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("alice", "password123").await;
    for _ in 0..5 {
        assert_eq!(app.login("alice", "wrong-password").await.status, 401);
    }
    // Even the right password is refused now, with a Retry-After of at most a minute.
    let res = app.login("alice", "password123").await;
    assert_eq!(res.status, 429);
    assert_eq!(res.error_code(), "008");
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The same client address is blocked for other usernames too.
    app.register("bob", "password123").await;
    assert_eq!(app.login("bob", "password123").await.status, 429);
}

async fn a_session_survives_a_server_restart(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    let before = app.address.clone();
    app.restart().await;
    assert_ne!(app.address, before, "a new server on a new port");
    let res = app.me(Auth::Cookie(&token)).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["username"], "alice");
}

async fn only_the_hash_of_the_token_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    let mut conn = app.pool.get().unwrap();
    let stored: Vec<String> = sessions::table
        .select(sessions::token_hash)
        .load(&mut conn)
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);
    assert_eq!(stored[0], roomcast::auth::token::hash_token(&token));
}

async fn the_reaper_deletes_expired_sessions(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.sessions.ttl_secs = 1).await;
    app.signed_in_user("alice").await;
    app.signed_in_user("bob").await;
    // Each call deletes what has expired by then; together they delete both, once expired.
    let deleted = std::cell::Cell::new(0);
    eventually(
        Duration::from_secs(10),
        "both sessions expire and are deleted",
        || async {
            let job = DeleteExpiredSessions {
                pool: app.pool.clone(),
            };
            let now = actix_web::web::block(move || job.delete_now())
                .await
                .unwrap()
                .unwrap();
            deleted.set(deleted.get() + now as u64);
            deleted.get() >= 2
        },
    )
    .await;
    assert_eq!(deleted.get(), 2);
    let mut conn = app.pool.get().unwrap();
    let left: i64 = sessions::table.count().get_result(&mut conn).unwrap();
    assert_eq!(left, 0);
}
