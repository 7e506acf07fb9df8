//! The dashboard (`GET /admin`) and the JSON every live part of the panel polls
//! (`GET /admin/overview.json`): uptime, rooms with online counts and ingest state, danmaku
//! accepted so far (the page turns it into messages per second), queue depth by state and
//! the latest failures.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde_json::{json, Value};

use super::gate;
use crate::actions::jobs::{job_json, queue_json};
use crate::auth::PageUser;
use crate::context::AppState;
use crate::db;
use crate::error::{ApiError, PageError};
use crate::pages::{render, Layout};

/// Rooms listed on the dashboard and the rooms page.
const ROOMS: i64 = 200;

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
}

/// `GET /admin`: the frame; `static/admin.js` fills it from the JSON and keeps it current.
pub async fn dashboard(PageUser(user): PageUser) -> Result<HttpResponse, PageError> {
    let user = gate(user)?;
    let page = DashboardPage {
        layout: Layout::new(Some(user), "Admin"),
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// `GET /admin/overview.json`
pub async fn json(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, ApiError> {
    match user {
        None => return Err(ApiError::Unauthenticated),
        Some(u) if !u.is_admin() => {
            return Err(ApiError::Forbidden(
                "the admin panel is for admins only".into(),
            ))
        }
        Some(_) => {}
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(overview(&state).await?))
}

pub async fn overview(state: &AppState) -> Result<Value, ApiError> {
    let (rooms, counts, failures) = db::blocking(&state.pool, |c| {
        Ok((
            db::rooms::list(c, ROOMS, 0)?,
            db::jobs::count_by_state(c)?,
            db::jobs::recent(c, Some("dead"), 10)?,
        ))
    })
    .await?;
    let online =
        crate::live::online_counts(state, rooms.iter().map(|r| r.id.clone()).collect()).await;
    let mut room_list = Vec::with_capacity(rooms.len());
    for room in &rooms {
        room_list.push(json!({
            "id": room.id,
            "title": room.title,
            "online": online.get(&room.id).copied().unwrap_or(0),
            "live": crate::ingest::live_json(state, room, true).await,
        }));
    }
    let storage = match state.storage.disk_space() {
        Ok(space) => json!({
            "free_bytes": space.free, "total_bytes": space.total, "low": space.is_low(),
        }),
        Err(e) => {
            log::warn!("reading the storage's free space: {e}");
            Value::Null
        }
    };
    Ok(json!({
        "uptime_secs": state.started_at.elapsed().as_secs(),
        "storage": storage,
        "rooms": room_list,
        "viewers": state.room_metrics.viewers.get(),
        "messages_total": state.room_metrics.accepted.get(),
        "queue": queue_json(counts),
        "failures": failures.iter().map(job_json).collect::<Vec<_>>(),
    }))
}
