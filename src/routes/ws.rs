//! `GET /ws/rooms/{id}`: the danmaku WebSocket. Each connection becomes a `ViewerSession`
//! actor on the worker that accepted it.

use actix::{Actor, AsyncContext};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use roomcast_actors::ingest::viewer::VideoViewer;
use roomcast_actors::room::Resume;
use roomcast_actors::viewer::{Viewer, ViewerConfig, ViewerSession};

use std::rc::Rc;
use std::sync::Arc;

use roomcast_actors::viewer::SessionCheck;

use super::ws_guard;
use crate::auth::{MaybeUser, SessionService, SessionToken};
use crate::context::AppState;
use crate::db::{self, rooms};
use crate::error::ApiError;

/// Frames above this size end the connection; up to it, frames over 4 KiB get `bad_frame`.
const MAX_WIRE_FRAME: usize = 64 * 1024;

pub async fn room_socket(
    req: HttpRequest,
    body: web::Payload,
    room_id: web::Path<String>,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    MaybeUser(user): MaybeUser,
) -> Result<HttpResponse, actix_web::Error> {
    if !origin_allowed(&req, &state.public_url) {
        return Err(ApiError::Forbidden("this origin may not open room sockets".into()).into());
    }
    let room_id = room_id.into_inner();
    let id = room_id.clone();
    if db::blocking(&state.pool, move |c| rooms::find(c, &id))
        .await
        .map_err(ApiError::from)?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("no room {room_id}")).into());
    }
    let (body, guard) = ws_guard::admit(&req, body, &state, MAX_WIRE_FRAME).await?;
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(MAX_WIRE_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_WIRE_FRAME);
    let token = SessionToken::from_request(&req).0;
    let viewer = user.zip(token).map(|(u, session)| Viewer {
        admin: u.is_admin(),
        user_id: u.user_id,
        username: u.username,
        session,
    });
    let config = ViewerConfig {
        max_chars: state.settings.danmaku.max_chars,
        registry: state.rooms.clone(),
        metrics: state.room_metrics.clone(),
        sessions: session_check(sessions.into_inner()),
        timing: state.settings.ws.timing(),
    };
    let resume = resume_point(&req);
    let compressed = wants_deflate(&req);
    ViewerSession::create(|ctx| {
        ctx.add_stream(stream);
        ViewerSession::new(&room_id, viewer, session, config, Some(Box::new(guard)))
            .resuming(resume)
            .compressed(compressed)
    });
    Ok(response)
}

/// `?compress=deflate`: `hello` and `batch` frames as binary frames of raw DEFLATE.
fn wants_deflate(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|pair| pair == "compress=deflate")
}

/// Where a reconnecting viewer left off: `?epoch=E&since=N` (both, or neither counts).
fn resume_point(req: &HttpRequest) -> Option<Resume> {
    #[derive(serde::Deserialize)]
    struct Query {
        epoch: Option<String>,
        since: Option<u64>,
    }
    let query = web::Query::<Query>::from_query(req.query_string()).ok()?;
    let epoch = query
        .epoch
        .clone()
        .filter(|e| !e.is_empty() && e.len() <= 64)?;
    Some(Resume {
        epoch,
        since: query.since?,
    })
}

/// Asks the session service whether a socket's session still holds (its cache answers
/// most sends; a logout, expiry or disabled account makes it `false`).
fn session_check(sessions: Arc<SessionService>) -> SessionCheck {
    Rc::new(move |token| {
        let sessions = Arc::clone(&sessions);
        Box::pin(async move { matches!(sessions.authenticate(&token).await, Ok(Some(_))) })
    })
}

/// Browsers always send `Origin` on WebSocket upgrades: it must be this site (the public
/// URL, or the host the request was sent to). Clients that send none (not browsers, so not
/// a cross-site page riding on a user's cookie) are let through.
fn origin_allowed(req: &HttpRequest, public_url: &str) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin.eq_ignore_ascii_case(public_url) {
        return true;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// `GET /ws/rooms/{id}/video`: the room's live video as binary fMP4 frames. Each
/// connection becomes a `VideoViewer` actor.
pub async fn video_socket(
    req: HttpRequest,
    body: web::Payload,
    room_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    if !origin_allowed(&req, &state.public_url) {
        return Err(ApiError::Forbidden("this origin may not open room sockets".into()).into());
    }
    let room_id = room_id.into_inner();
    let Some(pipeline) = crate::ingest::pipeline_for_viewer(&state, &room_id)
        .await
        .map_err(ApiError::from)?
    else {
        return Err(ApiError::NotFound(format!("room {room_id} has no live video")).into());
    };
    let (body, guard) = ws_guard::admit(&req, body, &state, MAX_WIRE_FRAME).await?;
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream.max_frame_size(MAX_WIRE_FRAME);
    VideoViewer::create(|ctx| {
        ctx.add_stream(stream);
        VideoViewer::new(
            &room_id,
            pipeline,
            session,
            state.room_metrics.video_delivery.clone(),
            state.settings.ws.timing(),
            Some(Box::new(guard)),
        )
    });
    Ok(response)
}
