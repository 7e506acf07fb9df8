//! The admin panel: admins only on every page and action, CSRF on every action, the actions
//! themselves (through the real forms), and disabling a user, which logs them out everywhere
//! and closes their sockets.

use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with, Auth, Backend, TestApp};

async fn admin(app: &TestApp, name: &str) -> String {
    let token = app.signed_in_user(name).await;
    let mut conn = app.pool.get().unwrap();
    assert!(roomcast::db::users::set_role(&mut conn, name, "admin").unwrap());
    token
}

const SESSION: &str = "roomcast_session";

/// The CSRF token the admin's pages carry.
async fn csrf(app: &TestApp, token: &str) -> String {
    app.page("/admin", &[(SESSION, token)]).await.csrf_token()
}

fn user_id(app: &TestApp, name: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    roomcast::db::users::find_by_username(&mut conn, name)
        .unwrap()
        .unwrap()
        .id
}

fn audit_actions(app: &TestApp) -> Vec<(String, String, String)> {
    let mut conn = app.pool.get().unwrap();
    roomcast::db::audit::recent(&mut conn, 100)
        .unwrap()
        .into_iter()
        .map(|e| (e.actor_name, e.action, e.target))
        .collect()
}

#[actix_web::test]
async fn every_admin_page_and_action_is_for_admins_only_and_needs_the_csrf_token() {
    let app = spawn_app(Backend::Sqlite).await;
    let root = admin(&app, "root").await;
    let alice = app.signed_in_user("alice").await;
    let alice_id = user_id(&app, "alice");
    let pages = [
        "/admin",
        "/admin/rooms",
        "/admin/jobs",
        "/admin/users",
        "/admin/audit",
    ];
    for path in pages {
        let res = app.page(path, &[]).await;
        assert_eq!(res.status, 303, "{path} as a visitor");
        assert_eq!(
            res.headers
                .get("location")
                .map(|v| v.to_str().unwrap().to_string())
                .as_deref(),
            Some("/login")
        );
        let res = app.page(path, &[(SESSION, &alice)]).await;
        assert_eq!(res.status, 403, "{path} as a user");
        let res = app.page(path, &[(SESSION, &root)]).await;
        assert_eq!(res.status, 200, "{path} as an admin");
    }
    let res = app.page("/admin/overview.json", &[(SESSION, &alice)]).await;
    assert_eq!(res.status, 403);

    let actions = [
        "/admin/jobs/delete_expired_sessions/run".to_string(),
        "/admin/jobs/delete_expired_sessions/pause".into(),
        "/admin/jobs/delete_expired_sessions/resume".into(),
        "/admin/jobs/runs/x/retry".into(),
        "/admin/rooms".into(),
        format!("/admin/users/{alice_id}/role"),
        format!("/admin/users/{alice_id}/disable"),
        format!("/admin/users/{alice_id}/enable"),
    ];
    let alice_csrf = app.page("/", &[(SESSION, &alice)]).await.csrf_token();
    for path in &actions {
        // A user with their own valid token: not an admin.
        let res = app
            .post_form(
                path,
                &[(SESSION, &alice)],
                &[("csrf_token", &alice_csrf), ("role", "admin")],
            )
            .await;
        assert_eq!(res.status, 403, "{path} as a user");
        // An admin's session without the token, and with another session's token.
        let res = app
            .post_form(path, &[(SESSION, &root)], &[("role", "admin")])
            .await;
        assert_eq!(res.status, 403, "{path} without a CSRF token");
        let res = app
            .post_form(
                path,
                &[(SESSION, &root)],
                &[("csrf_token", &alice_csrf), ("role", "admin")],
            )
            .await;
        assert_eq!(res.status, 403, "{path} with another session's CSRF token");
    }
    // Nothing of that happened.
    let mut conn = app.pool.get().unwrap();
    let alice_row = roomcast::db::users::find_by_username(&mut conn, "alice")
        .unwrap()
        .unwrap();
    assert_eq!(alice_row.role, "user");
    assert!(alice_row.disabled_at.is_none());
    assert!(roomcast::db::jobs::recent(&mut conn, None, 10)
        .unwrap()
        .is_empty());
    assert!(audit_actions(&app).is_empty());
}

#[actix_web::test]
async fn the_panels_forms_run_jobs_manage_users_and_open_source_rooms() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.ingest.allow_files = true).await;
    let root = admin(&app, "root").await;
    app.signed_in_user("bob").await;
    let bob_id = user_id(&app, "bob");
    let token = csrf(&app, &root).await;
    let cookies = [(SESSION, root.as_str())];
    let form = |extra: &'static [(&'static str, &'static str)]| {
        let mut f = vec![("csrf_token", token.as_str())];
        f.extend_from_slice(extra);
        f
    };

    // Run a job now: it is enqueued, runs, and shows on the jobs page.
    let res = app
        .post_form(
            "/admin/jobs/cleanup_deleted_videos/run",
            &cookies,
            &form(&[]),
        )
        .await;
    assert_eq!(res.status, 303);
    let location = res
        .headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap();
    let job_id = location
        .strip_prefix("/admin/jobs#job-")
        .unwrap()
        .to_string();
    let job = app.wait_job(&job_id, &["done"]).await;
    assert_eq!(job["result"], "removed the files of 0 deleted videos");
    let page = app.page("/admin/jobs", &cookies).await;
    assert!(page.html.contains(&format!("id=\"job-{job_id}\"")));
    assert!(page.html.contains("removed the files of 0 deleted videos"));

    // Users: search, promote, demote.
    let page = app.page("/admin/users?q=bo", &cookies).await;
    assert!(page.html.contains("data-user=\"bob\""));
    assert!(
        !page.html.contains("data-user=\"root\""),
        "the search filters"
    );
    let path = format!("/admin/users/{bob_id}/role");
    let res = app
        .post_form(&path, &cookies, &form(&[("role", "admin")]))
        .await;
    assert_eq!(res.status, 303);
    let res = app
        .post_form(&path, &cookies, &form(&[("role", "root")]))
        .await;
    assert_eq!(res.status, 400, "only admin or user");
    // An admin cannot disable or demote themselves.
    let me = user_id(&app, "root");
    let res = app
        .post_form(&format!("/admin/users/{me}/disable"), &cookies, &form(&[]))
        .await;
    assert_eq!(res.status, 403);

    // A room with a source, through the form; a hostile source is refused with the reason.
    let res = app
        .post_form(
            "/admin/rooms",
            &cookies,
            &form(&[
                ("title", "Bad"),
                ("source_url", "concat:/etc/passwd|/etc/hosts"),
            ]),
        )
        .await;
    assert_eq!(res.status, 400);
    assert!(res.html.contains("source_url"), "the reason is shown");
    let src = crate::media::fixture(crate::media::Fixture::LiveTs);
    let source = format!("file:{}", src.display());
    let res = app
        .post_form(
            "/admin/rooms",
            &cookies,
            &[
                ("csrf_token", token.as_str()),
                ("title", "Cam"),
                ("source_url", &source),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let room = {
        let mut conn = app.pool.get().unwrap();
        roomcast::db::rooms::list(&mut conn, 10, 0)
            .unwrap()
            .into_iter()
            .find(|r| r.title == "Cam")
            .unwrap()
            .id
    };
    crate::ingest::wait_live(&app, &room, "running").await;
    let res = app
        .post_form(
            &format!("/admin/rooms/{room}/ingest/stop"),
            &cookies,
            &form(&[]),
        )
        .await;
    assert_eq!(res.status, 303);
    crate::ingest::wait_live(&app, &room, "stopped").await;
    let res = app
        .post_form(
            &format!("/admin/rooms/{room}/ingest/start"),
            &cookies,
            &form(&[]),
        )
        .await;
    assert_eq!(res.status, 303);
    crate::ingest::wait_live(&app, &room, "running").await;
    let overview = app.page("/admin/overview.json", &cookies).await;
    assert!(
        overview.html.contains("\"state\":\"running\""),
        "{}",
        overview.html
    );

    // Everything is in the audit log, which the panel shows.
    let actions: Vec<String> = audit_actions(&app).into_iter().map(|(_, a, _)| a).collect();
    for want in [
        "job.run",
        "user.role",
        "room.create",
        "ingest.stop",
        "ingest.start",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
    let page = app.page("/admin/audit", &cookies).await;
    assert!(page.html.contains("ingest.stop"));
}

#[actix_web::test]
async fn disabling_a_user_logs_them_out_everywhere_and_closes_their_sockets() {
    let app = spawn_app(Backend::Sqlite).await;
    let root = admin(&app, "root").await;
    let phone = app.signed_in_user("mallory").await;
    let laptop = app.login("mallory", "password123").await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let room = app.create_room(&root, "Lobby").await;
    let (mut socket, _) = app.viewer(&room, Some(&phone)).await;
    let (mut bystander, _) = app.viewer(&room, Some(&root)).await;
    let id = user_id(&app, "mallory");
    for token in [&phone, &laptop] {
        assert_eq!(app.me(Auth::Bearer(token)).await.status, 200);
    }

    let token = csrf(&app, &root).await;
    let res = app
        .post_form(
            &format!("/admin/users/{id}/disable"),
            &[(SESSION, &root)],
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, 303);
    // Every session is gone at once (no cached session survives), and so is the socket.
    for token in [&phone, &laptop] {
        assert_eq!(app.me(Auth::Bearer(token)).await.status, 401);
    }
    assert_eq!(
        socket.closed_with(Duration::from_secs(5)).await,
        Some(1008),
        "the socket is closed with a policy violation"
    );
    // Others stay.
    bystander
        .send_json(serde_json::json!({"type": "send", "text": "still here"}))
        .await;
    assert_eq!(bystander.next_of_type("batch").await["type"], "batch");
    // No new session either, until enabled again.
    let res = app.login("mallory", "password123").await;
    assert_eq!(res.status, 403);
    assert_eq!(res.error_code(), "012");
    let res = app
        .post_form(
            &format!("/admin/users/{id}/enable"),
            &[(SESSION, &root)],
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(app.login("mallory", "password123").await.status, 201);
    let actions: Vec<String> = audit_actions(&app).into_iter().map(|(_, a, _)| a).collect();
    assert!(actions.contains(&"user.disable".to_string()));
    assert!(actions.contains(&"user.enable".to_string()));
}
