//! Operations endpoints and start-up failures.

use roomcast::config::{DatabaseUrl, Settings};
use roomcast::startup::Application;

use crate::helpers::{spawn_app, Auth, Backend};

crate::on_both_backends!(health_readiness_and_metrics_answer);

async fn health_readiness_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app
        .json(awc::http::Method::GET, "/healthz", Auth::None, None)
        .await;
    assert_eq!(health.status, 200);
    let ready = app
        .json(awc::http::Method::GET, "/readyz", Auth::None, None)
        .await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["database"], "ok");
    app.me(Auth::None).await;
    app.page("/", &[]).await;
    let metrics = app.page("/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.html.contains(
            r#"roomcast_http_requests_total{method="GET",route="/api/users/me",status="401"} 1"#
        ),
        "{}",
        metrics.html
    );
    assert!(metrics
        .html
        .contains(r#"roomcast_http_request_duration_seconds_count{method="GET",route="/"} 1"#));
}

async fn start_with_database(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.http.addr = "127.0.0.1:0".into();
    settings.storage.dir = dir.path().to_path_buf();
    settings.database.url = DatabaseUrl(url.into());
    let started = std::time::Instant::now();
    let err = match Application::build(settings).await {
        Ok(_) => panic!("{url} should not start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        started.elapsed().as_secs() < 5,
        "fails fast, not after a pool time-out"
    );
    err
}

#[actix_web::test]
async fn an_unreachable_database_fails_start_up_naming_the_url_without_its_password() {
    // Port 1 on loopback refuses connections.
    let err = start_with_database("postgres://app:s3cret@127.0.0.1:1/roomcast").await;
    assert!(
        err.contains("postgres://app:***@127.0.0.1:1/roomcast"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert!(
        err.to_lowercase().contains("refused"),
        "the cause is given: {err}"
    );
}

#[actix_web::test]
async fn a_database_url_with_an_unknown_scheme_is_refused_with_the_reason() {
    let err = start_with_database("mysql://root:pw@127.0.0.1/x").await;
    assert!(err.contains("mysql://root:***@127.0.0.1/x"), "{err}");
    assert!(err.contains("sqlite:// or postgres://"), "{err}");
}

#[actix_web::test]
async fn an_unwritable_sqlite_path_is_refused_with_the_reason() {
    let err = start_with_database("sqlite:///proc/roomcast/db.sqlite").await;
    assert!(err.contains("/proc/roomcast"), "{err}");
}
