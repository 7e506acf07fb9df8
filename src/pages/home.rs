//! `GET /`: live rooms and the latest videos.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{render, Layout};
use crate::auth::PageUser;
use crate::context::AppState;
use crate::db::{self, home::RoomCard, home::VideoCard, DbError, DbPool};
use crate::error::PageError;

const VIDEOS_ON_HOME: i64 = 12;
const ROOMS_ON_HOME: i64 = 12;

/// What the home page lists.
pub struct Listings {
    pub rooms: Vec<RoomCard>,
    pub videos: Vec<VideoCard>,
}

/// The home page's listings, shared by every worker and reused for `ttl` so that the
/// busiest page costs no query per request.
pub struct HomeFeed {
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Listings>)>>,
}

impl HomeFeed {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cached: Mutex::new(None),
        }
    }

    pub async fn get(&self, pool: &DbPool) -> Result<Arc<Listings>, DbError> {
        if let Some((at, listings)) = &*self.cached.lock().expect("home feed lock") {
            if at.elapsed() < self.ttl {
                return Ok(Arc::clone(listings));
            }
        }
        let listings = Arc::new(
            db::blocking(pool, |conn| {
                Ok(Listings {
                    rooms: db::home::latest_rooms(conn, ROOMS_ON_HOME)?,
                    videos: db::home::latest_videos(conn, VIDEOS_ON_HOME)?,
                })
            })
            .await?,
        );
        if !self.ttl.is_zero() {
            *self.cached.lock().expect("home feed lock") =
                Some((Instant::now(), Arc::clone(&listings)));
        }
        Ok(listings)
    }
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
    pub feed: Arc<Listings>,
    /// Rooms whose video is live now (asked each time: the feed is cached).
    pub live: std::collections::HashSet<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
) -> Result<HttpResponse, PageError> {
    let page = HomePage {
        layout: Layout::new(user, "Roomcast"),
        feed: state.home_feed.get(&state.pool).await?,
        live: crate::ingest::live_rooms(&state).await,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

/// A video length as `m:ss` or `h:mm:ss`; empty when unknown. Written straight into the
/// page: it is digits and colons only, so it needs no escaping.
pub struct DurationLabel(pub Option<i64>);

impl std::fmt::Display for DurationLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(ms) = self.0 else {
            return Ok(());
        };
        let secs = ms.max(0) / 1000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}:{m:02}:{s:02}")
        } else {
            write!(f, "{m}:{s:02}")
        }
    }
}

impl askama::filters::HtmlSafe for DurationLabel {}

#[cfg(test)]
mod tests {
    use super::DurationLabel;

    #[test]
    fn durations_read_like_a_video_site() {
        let label = |ms| DurationLabel(ms).to_string();
        assert_eq!(label(Some(5_000)), "0:05");
        assert_eq!(label(Some(754_999)), "12:34");
        assert_eq!(label(Some(3_723_000)), "1:02:03");
        assert_eq!(label(Some(-5)), "0:00");
        assert_eq!(label(None), "");
    }
}
