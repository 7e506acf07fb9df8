//! Queries on `danmaku` rows anchored to a time in a video.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{danmaku, users};
use super::DbConnection;

/// A time-anchored message as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct VideoDanmaku {
    pub id: String,
    pub user: String,
    pub text: String,
    pub color: String,
    pub mode: String,
    /// Playback position the message belongs to.
    pub ts_ms: i64,
    /// Unix ms when the server accepted it.
    pub at: i64,
}

/// A message to anchor at `ts_ms`.
pub struct NewVideoDanmaku<'a> {
    pub video_id: &'a str,
    pub author_id: &'a str,
    pub author: &'a str,
    pub text: &'a str,
    pub color: &'a str,
    pub mode: &'a str,
    pub ts_ms: i64,
}

pub fn create(conn: &mut DbConnection, new: &NewVideoDanmaku<'_>) -> QueryResult<VideoDanmaku> {
    let id = uuid::Uuid::new_v4().to_string();
    let created_at = Utc::now().naive_utc();
    diesel::insert_into(danmaku::table)
        .values((
            danmaku::id.eq(&id),
            danmaku::video_id.eq(new.video_id),
            danmaku::author_id.eq(new.author_id),
            danmaku::text.eq(new.text),
            danmaku::color.eq(new.color),
            danmaku::mode.eq(new.mode),
            danmaku::video_ts_ms.eq(new.ts_ms),
            danmaku::created_at.eq(created_at),
        ))
        .execute(conn)?;
    Ok(VideoDanmaku {
        id,
        user: new.author.to_string(),
        text: new.text.to_string(),
        color: new.color.to_string(),
        mode: new.mode.to_string(),
        ts_ms: new.ts_ms,
        at: created_at.and_utc().timestamp_millis(),
    })
}

/// Where every message of a video is anchored, in milliseconds (for its density curve).
pub fn anchors(conn: &mut DbConnection, video_id: &str) -> QueryResult<Vec<i64>> {
    let rows: Vec<Option<i64>> = danmaku::table
        .filter(danmaku::video_id.eq(video_id))
        .select(danmaku::video_ts_ms)
        .load(conn)?;
    Ok(rows.into_iter().flatten().collect())
}

/// Messages anchored in `[from_ms, to_ms]`, in playback order, at most `limit`.
pub fn in_range(
    conn: &mut DbConnection,
    video_id: &str,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> QueryResult<Vec<VideoDanmaku>> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<i64>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = danmaku::table
        .inner_join(users::table)
        .filter(danmaku::video_id.eq(video_id))
        .filter(danmaku::video_ts_ms.between(from_ms, to_ms))
        .order((danmaku::video_ts_ms.asc(), danmaku::created_at.asc()))
        .limit(limit)
        .select((
            danmaku::id,
            users::username,
            danmaku::text,
            danmaku::color,
            danmaku::mode,
            danmaku::video_ts_ms,
            danmaku::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, user, text, color, mode, ts, at)| VideoDanmaku {
            id,
            user,
            text,
            color,
            mode,
            ts_ms: ts.unwrap_or(0),
            at: at.and_utc().timestamp_millis(),
        })
        .collect())
}
