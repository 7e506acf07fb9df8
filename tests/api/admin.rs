//! The admin panel: admins only on every page and action, CSRF on every action, the actions
//! themselves (through the real forms), and disabling a user, which logs them out everywhere
//! and closes their sockets.

use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with, Auth, Backend, TestApp};

const SESSION: &str = "roomcast_session";

/// The CSRF token the admin's pages carry.
pub(crate) async fn csrf(app: &TestApp, token: &str) -> String {
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
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    let alice_id = user_id(&app, "alice");
    let pages = [
        "/admin",
        "/admin/rooms",
        "/admin/jobs",
        "/admin/users",
        "/admin/moderation",
        "/admin/videos",
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
        "/admin/rooms/r/source".into(),
        "/admin/rooms/r/ingest/stop".into(),
        "/admin/moderation/r/m/remove".into(),
        "/admin/moderation/r/mute".into(),
        "/admin/videos/v/delete".into(),
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
    let root = app.admin("root").await;
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
    let root = app.admin("root").await;
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

#[actix_web::test]
async fn moderators_remove_mute_and_ban_from_the_panel_and_delete_videos() {
    let app = spawn_app(Backend::Sqlite).await;
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    let room = app.create_room(&root, "Busy room").await;
    let (mut sender, _) = app.viewer(&room, Some(&alice)).await;
    let (mut watcher, _) = app.viewer(&room, Some(&root)).await;
    sender
        .send_json(serde_json::json!({"type": "send", "text": "<b>rude</b> words"}))
        .await;
    let batch = watcher.next_of_type("batch").await;
    let msg_id = batch["items"][0]["id"].as_str().unwrap().to_string();
    // Saved by the room's writer shortly after.
    let mut listed = false;
    for _ in 0..100 {
        let mut conn = app.pool.get().unwrap();
        if !roomcast::db::danmaku::recent_across_rooms(&mut conn, 10)
            .unwrap()
            .is_empty()
        {
            listed = true;
            break;
        }
        drop(conn);
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listed, "the message was saved");
    let cookies = [(SESSION, root.as_str())];
    let page = app.page("/admin/moderation", &cookies).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("rude"), "listed");
    assert!(!page.html.contains("<b>rude</b>"), "markup is escaped");
    assert!(page.html.contains("Busy room"));
    let token = csrf(&app, &root).await;

    // Remove: gone from the database and retracted on screens.
    let res = app
        .post_form(
            &format!("/admin/moderation/{room}/{msg_id}/remove"),
            &cookies,
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, 303);
    let retract = watcher.next_of_type("retract").await;
    assert_eq!(retract["ids"][0], msg_id.as_str());
    let page = app.page("/admin/moderation", &cookies).await;
    assert!(!page.html.contains("rude"));

    // Mute: the author is told and can no longer send in this room.
    let mute = format!("/admin/moderation/{room}/mute");
    let res = app
        .post_form(
            &mute,
            &cookies,
            &[
                ("csrf_token", &token),
                ("user", "alice"),
                ("seconds", "600"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let told = sender.next_of_type("error").await;
    assert_eq!(told["code"], "muted", "{told}");
    sender
        .send_json(serde_json::json!({"type": "send", "text": "again"}))
        .await;
    let refused = sender.next_of_type("error").await;
    assert_eq!(refused["code"], "muted", "{refused}");
    // Admins cannot be banned; a ban needs a sane length.
    let res = app
        .post_form(
            &mute,
            &cookies,
            &[("csrf_token", &token), ("user", "root"), ("seconds", "600")],
        )
        .await;
    assert_eq!(res.status, 403);
    let res = app
        .post_form(
            &mute,
            &cookies,
            &[("csrf_token", &token), ("user", "alice"), ("seconds", "0")],
        )
        .await;
    assert_eq!(res.status, 400);

    // Videos: listed with their owner, deleted from the panel.
    let video = app
        .ready_video(&alice, crate::media::Fixture::Faststart)
        .await;
    let id = video["id"].as_str().unwrap();
    let page = app.page("/admin/videos", &cookies).await;
    assert!(page.html.contains(&format!("data-video=\"{id}\"")));
    let res = app
        .post_form(
            &format!("/admin/videos/{id}/delete"),
            &cookies,
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, 303);
    let res = app
        .json(
            awc::http::Method::GET,
            &format!("/api/videos/{id}"),
            Auth::None,
            None,
        )
        .await;
    assert_eq!(res.status, 404);
    let res = app
        .post_form(
            &format!("/admin/videos/{id}/delete"),
            &cookies,
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, 404, "already deleted");

    let actions: Vec<String> = audit_actions(&app).into_iter().map(|(_, a, _)| a).collect();
    for want in ["danmaku.remove", "user.mute", "video.delete"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

/// The same admin actions through the JSON API are audited like the panel's (the actions
/// layer writes the entry whichever transport called it), and a room owner moderating
/// their own room is not an admin action.
#[actix_web::test]
async fn every_admin_action_through_the_api_is_audited_like_the_panels() {
    use awc::http::Method;
    use serde_json::json;
    let app = spawn_app_with(Backend::Sqlite, |s| s.ingest.allow_files = true).await;
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    app.signed_in_user("mallory").await;

    // A room with a source, its source changed, its pipeline stopped.
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            Auth::Bearer(&root),
            Some(json!({"title": "Audited", "source_url": "rtsp://127.0.0.1:9/cam?secret=1"})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let room = res.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/rooms/{room}");
    let patch = json!({"source_url": "rtsp://user:pw@127.0.0.1:9/other"});
    let res = app
        .json(Method::PATCH, &path, Auth::Bearer(&root), Some(patch))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = app
        .json(
            Method::POST,
            &format!("/api/admin/rooms/{room}/ingest/stop"),
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.body);

    // A message removed and a user banned, by the admin.
    let (mut viewer, _) = app.viewer(&room, Some(&alice)).await;
    viewer
        .send_json(json!({"type": "send", "text": "to be removed"}))
        .await;
    let batch = viewer.next_of_type("batch").await;
    let msg = batch["items"][0]["id"].as_str().unwrap().to_string();
    // Messages are saved a window after they are shown: remove it once it is stored.
    crate::helpers::eventually(Duration::from_secs(10), "the message is stored", || async {
        let history = app
            .json(
                Method::GET,
                &format!("/api/rooms/{room}/danmaku?limit=10"),
                Auth::None,
                None,
            )
            .await;
        history.body["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["id"] == msg.as_str()))
    })
    .await;
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/rooms/{room}/danmaku/{msg}"),
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    let res = app
        .json(
            Method::POST,
            &format!("/api/rooms/{room}/bans"),
            Auth::Bearer(&root),
            Some(json!({"user": "mallory", "seconds": 3600})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);

    // A video of alice's, deleted by the admin.
    let video = app
        .ready_video(&alice, crate::media::Fixture::Faststart)
        .await;
    let id = video["id"].as_str().unwrap();
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/videos/{id}"),
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.body);

    let log = audit_actions(&app);
    for want in [
        "room.create",
        "room.source",
        "ingest.stop",
        "danmaku.remove",
        "user.ban",
        "video.delete",
    ] {
        assert!(
            log.iter()
                .any(|(actor, action, _)| actor == "root" && action == want),
            "{want} in {log:?}"
        );
    }
    let mut conn = app.pool.get().unwrap();
    let details: Vec<String> = roomcast::db::audit::recent(&mut conn, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(
        details
            .iter()
            .all(|d| !d.contains("pw") && !d.contains("secret")),
        "no source credentials or query in the log: {details:?}"
    );
    drop(conn);

    // The owner moderating their own room is not an admin action.
    let own = app.create_room(&alice, "Alice's").await;
    let res = app
        .json(
            Method::POST,
            &format!("/api/rooms/{own}/bans"),
            Auth::Bearer(&alice),
            Some(json!({"user": "mallory", "seconds": 60})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert!(
        !audit_actions(&app)
            .iter()
            .any(|(actor, _, _)| actor == "alice"),
        "owners' moderation is not in the admin log"
    );
}
