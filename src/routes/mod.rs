//! The whole route table, in one place. Handlers live in the modules below.

mod api_accounts;
pub mod api_jobs;
mod api_moderation;
pub mod api_rooms;
pub mod api_videos;
mod health;
mod hls;
mod media;
mod static_files;
mod uploads;
mod ws;
mod ws_guard;

use actix_web::error::JsonPayloadError;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{ApiError, PageError};
use crate::pages;

/// Largest JSON body any API route accepts.
const JSON_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::BadBody(e.to_string()).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::BadBody(e.to_string()).into()),
        )
        // Resources are matched in order: the busiest page first.
        .route("/", web::get().to(pages::home::show))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/static/{file}", web::get().to(static_files::serve))
        .route("/ws/rooms/{id}", web::get().to(ws::room_socket))
        .route("/ws/rooms/{id}/video", web::get().to(ws::video_socket))
        .route("/hls/{room}/{file}", web::get().to(hls::serve))
        .route("/live", web::get().to(pages::live::list))
        .route("/live", web::post().to(pages::live::create))
        .route("/live/{id}", web::get().to(pages::live::room))
        .route("/videos", web::get().to(pages::videos::library))
        .route("/videos/{id}", web::get().to(pages::videos::watch))
        .route("/videos/{id}/stream", web::get().to(media::stream))
        .route("/videos/{id}/stream", web::head().to(media::stream))
        .route(
            "/videos/{id}/thumbnail.jpg",
            web::get().to(media::thumbnail),
        )
        .route(
            "/videos/{id}/thumbnail.jpg",
            web::head().to(media::thumbnail),
        )
        .route(
            "/videos/{id}/comments",
            web::post().to(pages::videos::comment),
        )
        .route("/upload", web::get().to(pages::videos::upload))
        .service(
            web::scope("/api")
                .route("/users", web::post().to(api_accounts::create_user))
                .route("/users/me", web::get().to(api_accounts::me))
                .route("/sessions", web::post().to(api_accounts::create_session))
                .route(
                    "/sessions/current",
                    web::delete().to(api_accounts::delete_session),
                )
                .route("/rooms", web::get().to(api_rooms::list))
                .route("/rooms", web::post().to(api_rooms::create))
                .route("/rooms/{id}", web::get().to(api_rooms::show))
                .route("/rooms/{id}", web::patch().to(api_rooms::update))
                .route("/rooms/{id}/danmaku", web::get().to(api_rooms::history))
                .route(
                    "/rooms/{id}/stream-key",
                    web::get().to(api_rooms::stream_key),
                )
                .route(
                    "/rooms/{id}/stream-key",
                    web::post().to(api_rooms::new_stream_key),
                )
                .route("/rooms/{id}/ingest/kick", web::post().to(api_rooms::kick))
                .route(
                    "/rooms/{id}/danmaku/{msg_id}",
                    web::delete().to(api_rooms::retract),
                )
                .route("/rooms/{id}/bans", web::post().to(api_rooms::ban))
                .route("/rooms/{id}/bans", web::get().to(api_moderation::bans))
                .route(
                    "/rooms/{id}/bans/{user_id}",
                    web::delete().to(api_moderation::unban),
                )
                .route(
                    "/rooms/{id}/moderators",
                    web::get().to(api_moderation::moderators),
                )
                .route(
                    "/rooms/{id}/moderators",
                    web::post().to(api_moderation::add),
                )
                .route(
                    "/rooms/{id}/moderators/{username}",
                    web::delete().to(api_moderation::remove),
                )
                .route(
                    "/rooms/{id}/filters",
                    web::get().to(api_moderation::room_filters),
                )
                .route(
                    "/rooms/{id}/filters",
                    web::put().to(api_moderation::set_room_filters),
                )
                .route(
                    "/admin/filters",
                    web::get().to(api_moderation::site_filters),
                )
                .route(
                    "/admin/filters",
                    web::put().to(api_moderation::set_site_filters),
                )
                .route("/videos", web::get().to(api_videos::list))
                .route("/videos", web::post().to(api_videos::create))
                .route("/videos/{id}", web::get().to(api_videos::show))
                .route("/videos/{id}", web::delete().to(api_videos::delete))
                .route("/videos/{id}/comments", web::get().to(api_videos::comments))
                .route(
                    "/videos/{id}/comments",
                    web::post().to(api_videos::add_comment),
                )
                .route("/videos/{id}/danmaku", web::get().to(api_videos::danmaku))
                .route(
                    "/videos/{id}/danmaku/density",
                    web::get().to(api_videos::danmaku_density),
                )
                .route(
                    "/videos/{id}/danmaku",
                    web::post().to(api_videos::add_danmaku),
                )
                .route(
                    "/uploads",
                    web::method(Method::OPTIONS).to(uploads::options),
                )
                .route(
                    "/admin/users/{id}/{action}",
                    web::post().to(api_accounts::set_disabled),
                )
                .route("/admin/jobs", web::get().to(api_jobs::overview))
                .route("/admin/jobs/runs/{id}", web::get().to(api_jobs::show_run))
                .route(
                    "/admin/jobs/runs/{id}/retry",
                    web::post().to(api_jobs::retry),
                )
                .route("/admin/jobs/{kind}/run", web::post().to(api_jobs::run_now))
                .route("/admin/jobs/{kind}/pause", web::post().to(api_jobs::pause))
                .route(
                    "/admin/jobs/{kind}/resume",
                    web::post().to(api_jobs::resume),
                )
                .route(
                    "/admin/rooms/{id}/ingest/{action}",
                    web::post().to(api_rooms::control_ingest),
                )
                .route("/uploads", web::post().to(uploads::create))
                .route("/uploads/{id}", web::head().to(uploads::head))
                .route("/uploads/{id}", web::patch().to(uploads::patch))
                .route("/uploads/{id}", web::delete().to(uploads::terminate))
                .route(
                    "/uploads/{id}",
                    web::method(Method::OPTIONS).to(uploads::options),
                )
                .default_service(web::to(api_not_found)),
        )
        .configure(pages::admin::configure)
        .route("/register", web::get().to(pages::account::register_form))
        .route("/register", web::post().to(pages::account::register))
        .route("/login", web::get().to(pages::account::login_form))
        .route("/login", web::post().to(pages::account::login))
        .route("/logout", web::post().to(pages::account::logout))
        .default_service(web::to(page_not_found));
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|e, _| json_error(e).into())
}

fn json_error(e: JsonPayloadError) -> ApiError {
    match e {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::TooLarge(format!("the JSON body is larger than {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("send the body as Content-Type: application/json".into())
        }
        other => ApiError::BadBody(format!("the JSON body is not valid: {other}")),
    }
}

/// The `/api` fallback: a path that exists for other methods is a 405, anything else a 404.
async fn api_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let what = format!("{} {}", req.method(), req.path());
    if req.match_pattern().is_some() {
        return Err(ApiError::MethodNotAllowed(format!(
            "{what}: method not allowed"
        )));
    }
    Err(ApiError::NotFound(format!("no API route {what}")))
}

/// The page fallback: a path that exists for other methods is a 405, anything else a 404.
async fn page_not_found(req: HttpRequest) -> Result<HttpResponse, PageError> {
    if req.match_pattern().is_some() {
        return Ok(pages::error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{} is not allowed here.", req.method()),
        ));
    }
    Err(PageError::not_found())
}
