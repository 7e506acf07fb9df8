//! `GET /`: live rooms and the latest videos.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{render, Layout};
use crate::auth::PageUser;
use crate::db::{self, home::RoomCard, home::VideoCard};
use crate::error::PageError;
use crate::startup::AppState;

const VIDEOS_ON_HOME: i64 = 12;
const ROOMS_ON_HOME: i64 = 12;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
    pub rooms: Vec<RoomCard>,
    pub videos: Vec<VideoCard>,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let (rooms, videos) = db::blocking(&state.pool, |conn| {
        Ok((
            db::home::latest_rooms(conn, ROOMS_ON_HOME)?,
            db::home::latest_videos(conn, VIDEOS_ON_HOME)?,
        ))
    })
    .await?;
    let page = HomePage {
        layout: Layout::new(&req, user, "Roomcast"),
        rooms,
        videos,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// `m:ss` or `h:mm:ss` for a card; empty when the duration is unknown.
pub fn duration_label(duration_ms: Option<i64>) -> String {
    let Some(ms) = duration_ms else {
        return String::new();
    };
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::duration_label;

    #[test]
    fn durations_read_like_a_video_site() {
        assert_eq!(duration_label(Some(5_000)), "0:05");
        assert_eq!(duration_label(Some(754_999)), "12:34");
        assert_eq!(duration_label(Some(3_723_000)), "1:02:03");
        assert_eq!(duration_label(None), "");
    }
}
