//! The job queue through the admin API, on real databases and real files: retries with
//! back-off, dead jobs and their retry, paused schedules, admins only, a server killed in the
//! middle of a run, and two servers sharing one PostgreSQL queue.
//!
//! A cleanup run fails for real when a deleted video's file cannot be removed: the tests put
//! a non-empty directory where the file was.

use std::path::PathBuf;
use std::time::Duration;

use awc::http::Method;
use serde_json::Value;

use crate::helpers::{eventually, spawn_app_with, Auth, Backend, TestApp};
use crate::media::Fixture;

async fn sleep_ms(ms: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}

/// An uploaded, processed and then deleted video whose file is replaced by a non-empty
/// directory, so that removing it fails. Returns the blocking directory.
async fn undeletable_video(app: &TestApp, token: &str) -> PathBuf {
    let video = app.ready_video(token, Fixture::Faststart).await;
    let id = video["id"].as_str().unwrap();
    let res = app
        .json(
            Method::DELETE,
            &format!("/api/videos/{id}"),
            Auth::Bearer(token),
            None,
        )
        .await;
    assert_eq!(res.status, 202, "{:?}", res.body);
    let file = app
        .settings
        .storage
        .dir
        .join("videos")
        .join(format!("{id}.mp4"));
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    std::fs::write(file.join("keep"), b"x").unwrap();
    file
}

async fn run_now(app: &TestApp, token: &str, kind: &str) -> String {
    let res = app
        .json(
            Method::POST,
            &format!("/api/admin/jobs/{kind}/run"),
            Auth::Bearer(token),
            None,
        )
        .await;
    assert_eq!(res.status, 202, "{:?}", res.body);
    res.body["job_id"].as_str().unwrap().to_string()
}

async fn job(app: &TestApp, token: &str, id: &str) -> Value {
    let res = app
        .json(
            Method::GET,
            &format!("/api/admin/jobs/runs/{id}"),
            Auth::Bearer(token),
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    res.body
}

/// Polls the job through the API until `done` says so (up to 30 s).
async fn wait_for(app: &TestApp, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        last = job(app, token, id).await;
        if done(&last) {
            return last;
        }
        sleep_ms(50).await;
    }
    panic!("the job never got there: {last}");
}

async fn a_job_that_fails_twice_then_succeeds_ends_done_after_three_attempts(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.jobs.cleanup_deleted_videos_secs = 3600;
        s.jobs.retry_base_ms = 1500;
    })
    .await;
    let root = app.admin("root").await;
    let blocker = undeletable_video(&app, &root).await;
    let id = run_now(&app, &root, "cleanup_deleted_videos").await;

    // Two failures, with the reason recorded and the retry scheduled.
    let second = wait_for(&app, &root, &id, |j| {
        j["attempts"] == 2 && j["state"] == "failed"
    })
    .await;
    assert!(
        second["last_error"]
            .as_str()
            .unwrap()
            .contains("1 of 1 deletions failed"),
        "{second}"
    );
    // The cause goes away before the third attempt (1.5 s x 2 later).
    std::fs::remove_dir_all(&blocker).unwrap();
    let done = wait_for(&app, &root, &id, |j| j["state"] == "done").await;
    assert_eq!(done["attempts"], 3, "{done}");
    assert_eq!(done["result"], "removed the files of 1 deleted videos");
    assert!(done["finished_at"].is_string());
    assert_eq!(app.files_in("videos"), Vec::<String>::new());
}

async fn a_job_that_always_fails_is_dead_visible_and_can_be_retried(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.jobs.cleanup_deleted_videos_secs = 3600;
        s.jobs.retry_base_ms = 100;
        s.jobs.max_attempts = 3;
    })
    .await;
    let root = app.admin("root").await;
    let blocker = undeletable_video(&app, &root).await;
    let id = run_now(&app, &root, "cleanup_deleted_videos").await;
    let dead = wait_for(&app, &root, &id, |j| j["state"] == "dead").await;
    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["max_attempts"], 3);
    assert!(dead["last_error"]
        .as_str()
        .unwrap()
        .contains("deletions failed"));

    // The overview counts it and lists it among recent runs and under its schedule.
    let res = app
        .json(Method::GET, "/api/admin/jobs", Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["queue"]["dead"], 1, "{}", res.body);
    assert!(res.body["recent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["id"] == id.as_str() && j["state"] == "dead"));
    let schedule = res.body["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "cleanup_deleted_videos")
        .unwrap()
        .clone();
    assert_eq!(schedule["last_run"]["id"], id.as_str());
    assert_eq!(schedule["every_secs"], 3600);
    let dead_only = app
        .json(
            Method::GET,
            "/api/admin/jobs?state=dead",
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(dead_only.body["recent"].as_array().unwrap().len(), 1);

    // The panel shows it too: the run's row, dead, with its error and a retry button.
    let page = app
        .page("/admin/jobs", &[("roomcast_session", root.as_str())])
        .await;
    let row = page
        .html
        .split(&format!("id=\"job-{id}\""))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("the dead job's row on the jobs page")
        .to_string();
    assert!(row.contains("data-state=\"dead\""), "{row}");
    assert!(row.contains("deletions failed"), "{row}");
    assert!(
        row.contains(&format!("/admin/jobs/runs/{id}/retry")),
        "{row}"
    );

    // Fixed and retried: a fresh set of attempts, and it succeeds.
    std::fs::remove_dir_all(&blocker).unwrap();
    let retry = format!("/api/admin/jobs/runs/{id}/retry");
    let res = app
        .json(Method::POST, &retry, Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.status, 202, "{:?}", res.body);
    let done = wait_for(&app, &root, &id, |j| j["state"] == "done").await;
    assert_eq!(done["attempts"], 1);
    // Only a dead job can be retried.
    let res = app
        .json(Method::POST, &retry, Auth::Bearer(&root), None)
        .await;
    assert_eq!(res.status, 409);
    assert_eq!(res.body["error_code"], "025");
}

crate::on_both_backends!(
    a_job_that_fails_twice_then_succeeds_ends_done_after_three_attempts,
    a_job_that_always_fails_is_dead_visible_and_can_be_retried,
    uploads_are_processed_as_leased_jobs_that_survive_a_crash_and_a_restart,
);

#[actix_web::test]
async fn only_admins_reach_the_job_routes() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let root = app.admin("root").await;
    let alice = app.signed_in_user("alice").await;
    let id = run_now(&app, &root, "delete_expired_sessions").await;
    let routes = [
        (Method::GET, "/api/admin/jobs".to_string()),
        (
            Method::POST,
            "/api/admin/jobs/delete_expired_sessions/run".into(),
        ),
        (
            Method::POST,
            "/api/admin/jobs/delete_expired_sessions/pause".into(),
        ),
        (
            Method::POST,
            "/api/admin/jobs/delete_expired_sessions/resume".into(),
        ),
        (Method::GET, format!("/api/admin/jobs/runs/{id}")),
        (Method::POST, format!("/api/admin/jobs/runs/{id}/retry")),
    ];
    for (method, path) in routes {
        let res = app
            .json(method.clone(), &path, Auth::Bearer(&alice), None)
            .await;
        assert_eq!(res.status, 403, "{method} {path} as a user");
        let res = app.json(method.clone(), &path, Auth::None, None).await;
        assert_eq!(res.status, 401, "{method} {path} as a visitor");
    }
    // Unknown kinds and runs.
    for (method, path) in [
        (Method::POST, "/api/admin/jobs/rm_rf/run"),
        (Method::POST, "/api/admin/jobs/rm_rf/pause"),
        (Method::GET, "/api/admin/jobs/runs/no-such-job"),
        (Method::POST, "/api/admin/jobs/runs/no-such-job/retry"),
    ] {
        let res = app
            .json(method.clone(), path, Auth::Bearer(&root), None)
            .await;
        assert_eq!(res.status, 404, "{method} {path}");
    }
    // What admins did is in the audit log.
    let mut conn = app.pool.get().unwrap();
    let log = roomcast::db::audit::recent(&mut conn, 10).unwrap();
    assert!(log.iter().any(|e| e.actor_name == "root"
        && e.action == "job.run"
        && e.target == "delete_expired_sessions"));
    assert!(
        log.iter().all(|e| e.actor_name == "root"),
        "refused actions are not logged"
    );
}

#[actix_web::test]
async fn a_paused_schedule_enqueues_nothing_until_resumed() {
    // A second schedule at the same pace shows that time passed for the scheduler.
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.jobs.delete_expired_sessions_secs = 1;
        s.jobs.prune_job_runs_secs = 1;
    })
    .await;
    let root = app.admin("root").await;
    let count_of = |app: &TestApp, kind: &str| {
        let mut conn = app.pool.get().unwrap();
        roomcast::db::jobs::recent(&mut conn, None, 1000)
            .unwrap()
            .iter()
            .filter(|j| j.kind == kind)
            .count()
    };
    let count = |app: &TestApp| count_of(app, "delete_expired_sessions");
    // Running every second.
    let mut runs = 0;
    for _ in 0..100 {
        runs = count(&app);
        if runs >= 2 {
            break;
        }
        sleep_ms(50).await;
    }
    assert!(runs >= 2, "the schedule runs every second");
    let res = app
        .json(
            Method::POST,
            "/api/admin/jobs/delete_expired_sessions/pause",
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    let paused_at = count(&app);
    let witness = count_of(&app, "prune_job_runs");
    eventually(
        Duration::from_secs(10),
        "the other schedule runs twice more",
        || async { count_of(&app, "prune_job_runs") >= witness + 2 },
    )
    .await;
    assert!(
        count(&app) <= paused_at + 1,
        "paused: at most a tick already under way"
    );
    let overview = app
        .json(Method::GET, "/api/admin/jobs", Auth::Bearer(&root), None)
        .await;
    let schedule = overview.body["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "delete_expired_sessions")
        .unwrap()
        .clone();
    assert_eq!(schedule["paused"], true);
    let before = count(&app);
    let res = app
        .json(
            Method::POST,
            "/api/admin/jobs/delete_expired_sessions/resume",
            Auth::Bearer(&root),
            None,
        )
        .await;
    assert_eq!(res.status, 200);
    let mut resumed = false;
    for _ in 0..100 {
        if count(&app) > before {
            resumed = true;
            break;
        }
        sleep_ms(50).await;
    }
    assert!(resumed, "resumed: runs again");
}

#[actix_web::test]
async fn two_servers_on_one_postgresql_queue_run_each_job_exactly_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app_with(backend, |s| s.jobs.poll_ms = 20).await;
    let (_address, other, other_jobs) = app.another_node().await;
    assert_ne!(app.jobs.worker_id, other_jobs.worker_id);
    // Many short jobs of every kind, enqueued at once: the two workers race for them.
    let kinds = app.jobs.kinds().to_vec();
    let mut ids = Vec::new();
    {
        let mut conn = app.pool.get().unwrap();
        let now = chrono::Utc::now().naive_utc();
        for _ in 0..50 {
            for kind in &kinds {
                ids.push(roomcast::db::jobs::enqueue(&mut conn, kind, "{}", 5, now).unwrap());
            }
        }
    }
    let total = ids.len();
    let mut done = Vec::new();
    for _ in 0..1200 {
        let mut conn = app.pool.get().unwrap();
        done = roomcast::db::jobs::recent(&mut conn, Some("done"), 10_000).unwrap();
        if done.len() >= total {
            break;
        }
        drop(conn);
        sleep_ms(50).await;
    }
    assert_eq!(done.len(), total, "every job ran");
    // Leasing counts an attempt: a job two workers had both taken would show 2.
    let twice: Vec<_> = done.iter().filter(|j| j.attempts != 1).collect();
    assert!(twice.is_empty(), "jobs leased more than once: {twice:?}");
    let workers: std::collections::HashSet<_> =
        done.iter().filter_map(|j| j.locked_by.clone()).collect();
    assert_eq!(
        workers.len(),
        2,
        "both servers worked the queue: {workers:?}"
    );
    other.stop(true).await;
}

#[actix_web::test]
async fn a_job_whose_server_is_killed_mid_run_completes_once_after_its_lease_expires() {
    use crate::cli::{roomcast, serve};
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let Some(crate::helpers::Backend::Postgres(server_url)) = Backend::postgres() else {
        return;
    };
    let (_db, url) = crate::helpers::PgDatabase::create(&server_url);
    let dir = tempfile::tempdir().unwrap();
    let command = || {
        let mut cmd = roomcast(dir.path());
        cmd.env("ROOMCAST__DATABASE__URL", &url)
            .env("ROOMCAST__JOBS__LEASE_SECS", "3")
            .env("ROOMCAST__JOBS__CLEANUP_DELETED_VIDEOS_SECS", "3600");
        cmd
    };
    let (mut server, port) = serve(command());
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::default();
    let body = serde_json::json!({"username": "root", "password": "correct horse battery"});
    let res = client
        .post(format!("{base}/api/users"))
        .send_json(&body)
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let pool = roomcast::db::connect(&roomcast::config::DatabaseSettings {
        url: roomcast::config::DatabaseUrl(url.clone()),
        pool_size: 1,
        ..Default::default()
    })
    .unwrap();
    let mut conn = pool.get().unwrap();
    roomcast::db::users::set_role(&mut conn, "root", "admin").unwrap();
    let owner = roomcast::db::users::find_by_username(&mut conn, "root")
        .unwrap()
        .unwrap()
        .id;
    // A deleted video with its file on disk, waiting for the cleanup.
    let video = uuid::Uuid::new_v4().to_string();
    let file = dir.path().join("data/videos").join(format!("{video}.mp4"));
    std::fs::write(&file, b"not really a video").unwrap();
    roomcast::db::videos::insert(
        &mut conn,
        &roomcast::db::videos::NewVideo {
            id: &video,
            owner_id: &owner,
            title: "t",
            description: "",
            status: "ready",
            file_name: &format!("{video}.mp4"),
            size_bytes: 18,
            mime: "video/mp4",
            duration_ms: Some(1000),
            width: Some(320),
            height: Some(240),
            video_codec: "h264",
            audio_codec: "",
            created_at: chrono::Utc::now().naive_utc(),
        },
    )
    .unwrap();
    assert!(roomcast::db::videos::mark_deleted(&mut conn, &video).unwrap());

    let mut res = client
        .post(format!("{base}/api/sessions"))
        .send_json(&body)
        .await
        .unwrap();
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Holding the outbox table makes the run stop inside its first query: it is leased and
    // running, and cannot finish while the server lives.
    let mut holder = diesel::PgConnection::establish(&url).unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE video_del_rec IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    let mut res = client
        .post(format!("{base}/api/admin/jobs/cleanup_deleted_videos/run"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let find = |conn: &mut roomcast::db::DbConnection| {
        roomcast::db::jobs::find(conn, &id).unwrap().unwrap()
    };
    for _ in 0..100 {
        if find(&mut conn).state == "running" {
            break;
        }
        sleep_ms(50).await;
    }
    sleep_ms(300).await;
    let running = find(&mut conn);
    assert_eq!((running.state.as_str(), running.attempts), ("running", 1));

    server.kill();
    holder.batch_execute("ROLLBACK;").unwrap();
    sleep_ms(500).await;
    let orphaned = find(&mut conn);
    assert_eq!(orphaned.state, "running", "nobody finished the killed run");
    assert!(file.exists(), "the killed run removed nothing");

    // A new server takes the job once its lease has run out, and finishes it.
    let (_server, _port) = serve(command());
    let mut finished = orphaned;
    for _ in 0..300 {
        finished = find(&mut conn);
        if finished.state == "done" {
            break;
        }
        sleep_ms(50).await;
    }
    assert_eq!(finished.state, "done", "{finished:?}");
    assert_eq!(
        finished.attempts, 2,
        "one killed attempt, one that completed"
    );
    assert_eq!(
        finished.result.as_deref(),
        Some("removed the files of 1 deleted videos")
    );
    assert!(!file.exists());
    assert_eq!(
        roomcast::db::videos::pending_deletion_count(&mut conn).unwrap(),
        0
    );
}

/// Upload processing is a job: each upload gets a run, a run after a crash that had already
/// moved the file into place only marks the video ready, and a video left `processing` with
/// no run waiting gets one when a node starts.
async fn uploads_are_processed_as_leased_jobs_that_survive_a_crash_and_a_restart(backend: Backend) {
    use diesel::prelude::*;
    use roomcast::db::schema::{jobs, videos};

    let mut app = spawn_app_with(backend, |_| {}).await;
    let token = app.signed_in_user("alice").await;
    let video = app.ready_video(&token, Fixture::LateMoov).await;
    let id = video["id"].as_str().unwrap().to_string();
    let payload = roomcast::jobs::process_upload::payload(&id);
    let runs = |app: &TestApp| -> Vec<(String, Option<String>)> {
        let mut conn = app.pool.get().unwrap();
        jobs::table
            .filter(jobs::kind.eq("process_upload"))
            .filter(jobs::payload.eq(&payload))
            .select((jobs::state, jobs::result))
            .load(&mut conn)
            .unwrap()
    };
    let first = runs(&app);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, "done");
    assert!(
        first[0].1.as_deref().unwrap().contains("ready"),
        "{first:?}"
    );

    // A node died after moving the file into place, before marking the video: the row is
    // still processing, the upload is gone, the served file is there.
    let set_processing = |app: &TestApp| {
        let mut conn = app.pool.get().unwrap();
        diesel::update(videos::table.find(&id))
            .set(videos::status.eq("processing"))
            .execute(&mut conn)
            .unwrap();
    };
    set_processing(&app);
    let job = app
        .jobs
        .enqueue("process_upload", &payload)
        .await
        .unwrap()
        .unwrap();
    let done = app.wait_job(&job, &["done", "dead"]).await;
    assert_eq!(done["state"], "done", "{done}");
    let shown = app.wait_processed(&token, &id).await;
    assert_eq!(shown["status"], "ready", "{shown}");

    // Left processing with no run waiting (an enqueue that never happened): a restart
    // enqueues one.
    set_processing(&app);
    app.restart().await;
    let shown = app.wait_processed(&token, &id).await;
    assert_eq!(shown["status"], "ready", "{shown}");
    assert_eq!(runs(&app).len(), 3);
}
