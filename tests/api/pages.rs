//! Pages: the home page from the database, the account forms with their CSRF checks,
//! error pages, and the security headers.

use chrono::Utc;
use diesel::prelude::*;
use roomcast::db::schema::{rooms, users, videos};

use crate::helpers::{spawn_app, Auth, Backend};

/// Cookies or form fields as name/value pairs.
type Pairs<'a> = Vec<(&'a str, &'a str)>;

crate::on_both_backends!(
    the_home_page_shows_empty_states_on_a_new_site,
    the_home_page_lists_rooms_and_ready_videos_escaped,
    registering_through_the_form_signs_the_user_in,
    logging_in_and_out_through_the_forms,
    a_form_post_without_the_csrf_token_is_refused,
    a_bad_login_form_shows_the_error_on_the_page,
    unknown_pages_and_api_routes_get_404s_in_their_formats,
    security_headers_are_on_pages_and_api_responses,
    static_assets_are_served_with_types_and_etags,
    the_live_pages_list_rooms_and_render_a_room,
    opening_a_room_through_the_form_needs_the_csrf_token,
);

async fn the_home_page_shows_empty_states_on_a_new_site(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.page("/", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("data-testid=\"rooms-empty\""));
    assert!(page.html.contains("data-testid=\"videos-empty\""));
    assert!(page.html.contains("href=\"/login\""));
}

async fn the_home_page_lists_rooms_and_ready_videos_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_in_user("alice").await;
    let mut conn = app.pool.get().unwrap();
    let owner: String = users::table.select(users::id).first(&mut conn).unwrap();
    let now = Utc::now().naive_utc();
    diesel::insert_into(rooms::table)
        .values((
            rooms::id.eq("room-1"),
            rooms::owner_id.eq(&owner),
            rooms::title.eq("<script>alert(1)</script> Night market"),
            rooms::on_demand.eq(false),
            rooms::created_at.eq(now),
        ))
        .execute(&mut conn)
        .unwrap();
    for (id, title, status) in [
        ("v1", "Ready one", "ready"),
        ("v2", "Still processing", "processing"),
    ] {
        diesel::insert_into(videos::table)
            .values((
                videos::id.eq(id),
                videos::owner_id.eq(&owner),
                videos::title.eq(title),
                videos::description.eq(""),
                videos::status.eq(status),
                videos::file_name.eq(format!("{id}.mp4")),
                videos::size_bytes.eq(1000i64),
                videos::mime.eq("video/mp4"),
                videos::duration_ms.eq(Some(754_000i64)),
                videos::created_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    let page = app.page("/", &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.html
            .contains("&#60;script&#62;alert(1)&#60;/script&#62; Night market")
            || page
                .html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; Night market"),
        "escaped title"
    );
    assert!(!page.html.contains("<script>alert(1)"));
    assert!(page.html.contains("href=\"/live/room-1\""));
    assert!(page.html.contains("Ready one"));
    assert!(page.html.contains("12:34"));
    assert!(
        !page.html.contains("Still processing"),
        "only ready videos are listed"
    );
}

async fn registering_through_the_form_signs_the_user_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let form = app.page("/register", &[]).await;
    let csrf_cookie = form
        .cookie("roomcast_csrf")
        .expect("a visitor gets a CSRF cookie");
    let token = form.csrf_token();
    assert_eq!(token, csrf_cookie);
    let res = app
        .post_form(
            "/register",
            &[("roomcast_csrf", &csrf_cookie)],
            &[
                ("username", "erin"),
                ("password", "password123"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.headers.get("location").unwrap(), "/");
    let session = res.cookie("roomcast_session").expect("signed in");
    let me = app.me(Auth::Cookie(&session)).await;
    assert_eq!(me.body["username"], "erin");
    let home = app.page("/", &[("roomcast_session", &session)]).await;
    assert!(home.html.contains("data-testid=\"username\">erin<"));
}

async fn logging_in_and_out_through_the_forms(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("frank", "password123").await;
    let form = app.page("/login", &[]).await;
    let csrf = form.cookie("roomcast_csrf").unwrap();
    let res = app
        .post_form(
            "/login",
            &[("roomcast_csrf", &csrf)],
            &[
                ("username", "frank"),
                ("password", "password123"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let session = res.cookie("roomcast_session").unwrap();
    // The logout form carries the session's own token, not the visitor cookie's.
    let home = app.page("/", &[("roomcast_session", &session)]).await;
    let session_csrf = home.csrf_token();
    assert_ne!(session_csrf, csrf);
    let out = app
        .post_form(
            "/logout",
            &[("roomcast_session", &session)],
            &[("csrf_token", &session_csrf)],
        )
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.cookie("roomcast_session").as_deref(), Some(""));
    assert_eq!(app.me(Auth::Cookie(&session)).await.status, 401);
}

async fn a_form_post_without_the_csrf_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("grace").await;
    let visitor = app
        .page("/register", &[])
        .await
        .cookie("roomcast_csrf")
        .unwrap();
    // No token at all; a token but no cookie (a cross-site form); a wrong token.
    let attempts: [(&str, Pairs, Pairs); 4] = [
        (
            "/register",
            vec![("roomcast_csrf", &visitor)],
            vec![("username", "heidi"), ("password", "password123")],
        ),
        (
            "/login",
            vec![],
            vec![
                ("username", "grace"),
                ("password", "password123"),
                ("csrf_token", &visitor),
            ],
        ),
        (
            "/login",
            vec![("roomcast_csrf", &visitor)],
            vec![
                ("username", "grace"),
                ("password", "password123"),
                ("csrf_token", "0000"),
            ],
        ),
        ("/logout", vec![("roomcast_session", &token)], vec![]),
    ];
    for (path, cookies, form) in attempts {
        let res = app.post_form(path, &cookies, &form).await;
        assert_eq!(res.status, 403, "{path} {form:?}");
        assert!(res.html.contains("CSRF"), "{path}");
        assert!(
            res.cookie("roomcast_session").is_none(),
            "{path}: nothing happened"
        );
    }
    assert_eq!(
        app.login("heidi", "password123").await.status,
        401,
        "heidi was not created"
    );
    assert_eq!(
        app.me(Auth::Bearer(&token)).await.status,
        200,
        "grace is still signed in"
    );
}

async fn a_bad_login_form_shows_the_error_on_the_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let csrf = app
        .page("/login", &[])
        .await
        .cookie("roomcast_csrf")
        .unwrap();
    let res = app
        .post_form(
            "/login",
            &[("roomcast_csrf", &csrf)],
            &[
                ("username", "<i>nobody</i>"),
                ("password", "password123"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status, 401);
    assert!(res.html.contains("wrong username or password"));
    assert!(
        !res.html.contains("<i>nobody</i>"),
        "the echoed username is escaped"
    );
}

async fn unknown_pages_and_api_routes_get_404s_in_their_formats(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.page("/no/such/page", &[]).await;
    assert_eq!(page.status, 404);
    assert!(page
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.html.contains("404"));
    let api = app
        .json(awc::http::Method::GET, "/api/nothing", Auth::None, None)
        .await;
    assert_eq!(api.status, 404);
    assert_eq!(api.error_code(), "010");
}

async fn security_headers_are_on_pages_and_api_responses(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.page("/", &[]).await;
    let api = app.me(Auth::None).await;
    for headers in [&page.headers, &api.headers] {
        let csp = headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        assert!(headers.get("referrer-policy").is_some());
    }
}

async fn static_assets_are_served_with_types_and_etags(backend: Backend) {
    let app = spawn_app(backend).await;
    let css = app.page("/static/style.css", &[]).await;
    assert_eq!(css.status, 200);
    assert_eq!(
        css.headers.get("content-type").unwrap(),
        "text/css; charset=utf-8"
    );
    let etag = css
        .headers
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let res = app
        .client
        .get(app.url("/static/style.css"))
        .insert_header(("If-None-Match", etag))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    // Path tricks find nothing: only the embedded files exist.
    for path in [
        "/static/..%2FCargo.toml",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/nope.js",
    ] {
        assert_eq!(app.page(path, &[]).await.status, 404, "{path}");
    }
}

async fn the_live_pages_list_rooms_and_render_a_room(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    let room = app
        .create_room(&token, "<img src=x onerror=alert(1)> Jazz")
        .await;
    let (_viewer, _) = app.viewer(&room, None).await;
    let list = app.page("/live", &[]).await;
    assert_eq!(list.status, 200);
    assert!(list.html.contains(&format!("href=\"/live/{room}\"")));
    assert!(!list.html.contains("<img src=x"), "titles are escaped");
    assert!(
        list.html.contains("data-testid=\"online\">1<"),
        "{}",
        list.html
    );
    let page = app.page(&format!("/live/{room}"), &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains(&format!("data-room-id=\"{room}\"")));
    assert!(page
        .html
        .contains("<script src=\"/static/room.js\" defer></script>"));
    assert!(!page.html.contains("<img src=x"));
    assert!(
        page.html.contains("Log in</a> to send"),
        "visitors are asked to log in"
    );
    let signed_in = app
        .page(&format!("/live/{room}"), &[("roomcast_session", &token)])
        .await;
    assert!(signed_in.html.contains("id=\"send-form\""));
    assert_eq!(app.page("/live/no-such-room", &[]).await.status, 404);
    let js = app.page("/static/room.js", &[]).await;
    assert_eq!(js.status, 200);
    assert!(
        !js.html.contains("innerHTML"),
        "user text never goes in as HTML"
    );
}

async fn opening_a_room_through_the_form_needs_the_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    let cookies = [("roomcast_session", token.as_str())];
    let refused = app
        .post_form("/live", &cookies, &[("title", "No token")])
        .await;
    assert_eq!(refused.status, 403);
    let csrf = app.page("/live", &cookies).await.csrf_token();
    let res = app
        .post_form(
            "/live",
            &cookies,
            &[("title", "Morning show"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status, 303);
    let location = res
        .headers
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.starts_with("/live/"), "{location}");
    let page = app.page(&location, &[]).await;
    assert!(page.html.contains("Morning show"));
    let rooms = app
        .json(awc::http::Method::GET, "/api/rooms", Auth::None, None)
        .await;
    assert_eq!(
        rooms.body["rooms"].as_array().unwrap().len(),
        1,
        "only the one with a token"
    );
}
