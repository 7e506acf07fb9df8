//! Pages in a real browser: Debian's Chromium driven by playwright-core (tests/browser).

use std::path::Path;
use std::process::Command;

use crate::helpers::{spawn_app, Backend};

/// Runs one script of `tests/browser` against a fresh server and asserts it passed.
async fn run_browser_script(script: &str) {
    run_browser_script_with(script, &[]).await
}

/// The same, with extra arguments after the server's address.
async fn run_browser_script_with(script: &str, args: &[String]) {
    let app = spawn_app(Backend::Sqlite).await;
    run_browser_script_on(&app, script, args).await
}

/// Runs a script against a server the test has prepared.
async fn run_browser_script_on(app: &crate::helpers::TestApp, script: &str, args: &[String]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci --prefix tests/browser` (.ci/run does)"
    );
    let address = app.address.clone();
    let script = dir.join(script);
    let args = args.to_vec();
    let out = actix_web::web::block(move || {
        Command::new("node")
            .arg(&script)
            .arg(&address)
            .args(&args)
            .output()
            .expect("node runs (install Node.js)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The error line goes first: summaries of a run keep only the panic's first lines.
    let reason = stderr
        .lines()
        .find(|line| line.contains("Error"))
        .unwrap_or("no error line");
    assert!(
        out.status.success(),
        "browser script failed: {reason}\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok"), "{stdout}");
}

#[actix_web::test]
async fn a_visitor_registers_logs_out_and_logs_in_through_the_pages() {
    run_browser_script("accounts.mjs").await;
}

#[actix_web::test]
async fn two_viewers_in_a_room_see_each_others_danmaku_on_the_overlay_and_in_the_list() {
    run_browser_script("room.mjs").await;
}

#[actix_web::test]
async fn owners_moderate_from_the_room_page_and_viewers_tune_their_own_danmaku() {
    // The flood limit out of the way: this is about moderation, not rate.
    let app =
        crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.danmaku.rate = "1000/1s".into())
            .await;
    let root = app.admin("root").await;
    run_browser_script_on(&app, "moderate.mjs", &[root]).await;
}

#[actix_web::test]
async fn a_video_is_uploaded_through_the_page_played_and_its_danmaku_shows_at_its_time() {
    let file = crate::media::fixture(crate::media::Fixture::LateMoov);
    run_browser_script_with("videos.mjs", &[file.display().to_string()]).await;
}

#[actix_web::test]
async fn a_live_room_plays_through_mse_and_hls_and_comes_back_after_its_source_stops() {
    use awc::http::Method;

    let app =
        crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.ingest.allow_files = true).await;
    let root = app.admin("root").await;
    let src = crate::media::fixture(crate::media::Fixture::LiveTs);
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            crate::helpers::Auth::Bearer(&root),
            Some(serde_json::json!({"title": "Live card", "source_url": format!("file:{}", src.display())})),
        )
        .await;
    let room = res.body["id"].as_str().unwrap().to_string();
    crate::ingest::wait_live(&app, &room, "running").await;
    run_browser_script_on(&app, "live.mjs", &[room, root]).await;
}

#[actix_web::test]
async fn an_admin_runs_a_job_and_stops_and_starts_a_source_from_the_panel() {
    use awc::http::Method;

    let app =
        crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.ingest.allow_files = true).await;
    let root = app.admin("root").await;
    let src = crate::media::fixture(crate::media::Fixture::LiveTs);
    let res = app
        .json(
            Method::POST,
            "/api/rooms",
            crate::helpers::Auth::Bearer(&root),
            Some(serde_json::json!({"title": "Panel cam", "source_url": format!("file:{}", src.display())})),
        )
        .await;
    let room = res.body["id"].as_str().unwrap().to_string();
    run_browser_script_on(&app, "admin.mjs", &[room]).await;
}

#[actix_web::test]
async fn the_owners_go_live_panel_shows_the_key_and_the_room_plays_once_ffmpeg_publishes() {
    let port = crate::live_sources::free_port();
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |s| {
        s.ingest.rtmp_addr = format!("127.0.0.1:{port}");
    })
    .await;
    let owner = app.signed_in_user("streamer").await;
    let room = app.create_room(&owner, "Going live").await;
    run_browser_script_on(&app, "golive.mjs", &[room, owner]).await;
}
