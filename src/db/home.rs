//! Read-only listings for the home page.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{rooms, users, videos};
use super::DbConnection;

/// A ready video as a card on a page.
#[derive(Debug, Clone, Queryable)]
pub struct VideoCard {
    pub id: String,
    pub title: String,
    pub duration_ms: Option<i64>,
    pub created_at: NaiveDateTime,
    pub owner: String,
}

/// A room as a card on a page.
#[derive(Debug, Clone, Queryable)]
pub struct RoomCard {
    pub id: String,
    pub title: String,
    pub has_source: bool,
    pub owner: String,
}

pub fn latest_videos(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<VideoCard>> {
    videos::table
        .inner_join(users::table)
        .filter(videos::status.eq("ready"))
        .order(videos::created_at.desc())
        .limit(limit)
        .select((
            videos::id,
            videos::title,
            videos::duration_ms,
            videos::created_at,
            users::username,
        ))
        .load(conn)
}

pub fn latest_rooms(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<RoomCard>> {
    rooms::table
        .inner_join(users::table)
        .order(rooms::created_at.desc())
        .limit(limit)
        .select((
            rooms::id,
            rooms::title,
            rooms::source_url.is_not_null(),
            users::username,
        ))
        .load(conn)
}
