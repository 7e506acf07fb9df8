//! Queries on `videos` and `video_del_rec` (the deletion outbox).
//!
//! A video moves `processing` -> `ready` or `failed`, and to `deleted` from any of them. A
//! deletion writes its `video_del_rec` row in the same transaction, so the cleanup job that
//! removes the files can never miss one.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{users, video_del_rec, videos};
use super::DbConnection;

/// A video with its owner's username.
#[derive(Debug, Clone, Queryable)]
pub struct VideoRow {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub description: String,
    pub status: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub mime: String,
    pub duration_ms: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub video_codec: String,
    pub audio_codec: String,
    pub failure_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub owner: String,
}

impl VideoRow {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// Values for a video that has just been probed.
#[derive(Debug, Insertable)]
#[diesel(table_name = videos)]
pub struct NewVideo<'a> {
    pub id: &'a str,
    pub owner_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub status: &'a str,
    pub file_name: &'a str,
    pub size_bytes: i64,
    pub mime: &'a str,
    pub duration_ms: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub video_codec: &'a str,
    pub audio_codec: &'a str,
    pub created_at: NaiveDateTime,
}

/// What the media routes need to serve a ready video's file.
#[derive(Debug, Clone, Queryable)]
pub struct ServedFile {
    pub file_name: String,
    pub mime: String,
}

type VideoColumns = (
    videos::id,
    videos::owner_id,
    videos::title,
    videos::description,
    videos::status,
    videos::file_name,
    videos::size_bytes,
    videos::mime,
    videos::duration_ms,
    videos::width,
    videos::height,
    videos::video_codec,
    videos::audio_codec,
    videos::failure_reason,
    videos::created_at,
    users::username,
);

const COLUMNS: VideoColumns = (
    videos::id,
    videos::owner_id,
    videos::title,
    videos::description,
    videos::status,
    videos::file_name,
    videos::size_bytes,
    videos::mime,
    videos::duration_ms,
    videos::width,
    videos::height,
    videos::video_codec,
    videos::audio_codec,
    videos::failure_reason,
    videos::created_at,
    users::username,
);

pub fn insert(conn: &mut DbConnection, video: &NewVideo<'_>) -> QueryResult<()> {
    diesel::insert_into(videos::table)
        .values(video)
        .execute(conn)
        .map(drop)
}

/// A video in any state, deleted ones included.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<VideoRow>> {
    videos::table
        .inner_join(users::table)
        .filter(videos::id.eq(id))
        .select(COLUMNS)
        .first(conn)
        .optional()
}

/// A video that is not deleted.
pub fn find_visible(conn: &mut DbConnection, id: &str) -> QueryResult<Option<VideoRow>> {
    Ok(find(conn, id)?.filter(|v| v.status != "deleted"))
}

/// The file of a ready video.
pub fn find_served(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ServedFile>> {
    videos::table
        .filter(videos::id.eq(id))
        .filter(videos::status.eq("ready"))
        .select((videos::file_name, videos::mime))
        .first(conn)
        .optional()
}

/// Ready videos, newest first.
pub fn list_ready(conn: &mut DbConnection, limit: i64, offset: i64) -> QueryResult<Vec<VideoRow>> {
    videos::table
        .inner_join(users::table)
        .filter(videos::status.eq("ready"))
        .order((videos::created_at.desc(), videos::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(COLUMNS)
        .load(conn)
}

/// Every video that is not deleted (processing, ready or failed), newest first.
pub fn list_all(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<VideoRow>> {
    videos::table
        .inner_join(users::table)
        .filter(videos::status.ne("deleted"))
        .order((videos::created_at.desc(), videos::id.desc()))
        .limit(limit)
        .select(COLUMNS)
        .load(conn)
}

/// Bytes the user's videos take (those being processed and those ready), for the quota.
pub fn bytes_of_owner(conn: &mut DbConnection, owner_id: &str) -> QueryResult<u64> {
    let sizes: Vec<i64> = videos::table
        .filter(videos::owner_id.eq(owner_id))
        .filter(videos::status.eq_any(["processing", "ready"]))
        .select(videos::size_bytes)
        .load(conn)?;
    Ok(sizes.into_iter().map(|n| n.max(0) as u64).sum())
}

pub fn count_ready(conn: &mut DbConnection) -> QueryResult<i64> {
    videos::table
        .filter(videos::status.eq("ready"))
        .count()
        .get_result(conn)
}

/// Ids of videos still being processed (to resume after a restart).
pub fn processing_ids(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    videos::table
        .filter(videos::status.eq("processing"))
        .select(videos::id)
        .load(conn)
}

/// Ids among `ids` whose files must be kept (processing or ready).
pub fn live_ids(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<String>> {
    videos::table
        .filter(videos::id.eq_any(ids))
        .filter(videos::status.eq_any(["processing", "ready"]))
        .select(videos::id)
        .load(conn)
}

/// Processing finished: the file is in place. False if the video was deleted meanwhile.
pub fn mark_ready(
    conn: &mut DbConnection,
    id: &str,
    file_name: &str,
    size_bytes: i64,
) -> QueryResult<bool> {
    diesel::update(
        videos::table
            .filter(videos::id.eq(id))
            .filter(videos::status.eq("processing")),
    )
    .set((
        videos::status.eq("ready"),
        videos::file_name.eq(file_name),
        videos::size_bytes.eq(size_bytes),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Processing failed for `reason`.
pub fn mark_failed(conn: &mut DbConnection, id: &str, reason: &str) -> QueryResult<bool> {
    diesel::update(
        videos::table
            .filter(videos::id.eq(id))
            .filter(videos::status.eq("processing")),
    )
    .set((
        videos::status.eq("failed"),
        videos::failure_reason.eq(reason),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Marks the video deleted and records the deletion in one transaction. False if it was
/// already deleted (or never existed).
pub fn mark_deleted(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let changed = diesel::update(
            videos::table
                .filter(videos::id.eq(id))
                .filter(videos::status.ne("deleted")),
        )
        .set(videos::status.eq("deleted"))
        .execute(conn)?;
        if changed == 0 {
            return Ok(false);
        }
        diesel::insert_into(video_del_rec::table)
            .values((
                video_del_rec::video_id.eq(id),
                video_del_rec::requested_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// Deletions whose files may still exist, oldest first: `(video_id, file_name)`.
pub fn pending_deletions(
    conn: &mut DbConnection,
    limit: i64,
) -> QueryResult<Vec<(String, String)>> {
    video_del_rec::table
        .inner_join(videos::table.on(videos::id.eq(video_del_rec::video_id)))
        .order(video_del_rec::requested_at.asc())
        .limit(limit)
        .select((video_del_rec::video_id, videos::file_name))
        .load(conn)
}

/// The files of a deletion are gone: drop its record.
/// Removes the deletion records of `ids` in one statement (their files are gone).
pub fn forget_deletions(conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
    diesel::delete(video_del_rec::table.filter(video_del_rec::video_id.eq_any(ids))).execute(conn)
}

/// How many deletions are waiting for their files to be removed.
pub fn pending_deletion_count(conn: &mut DbConnection) -> QueryResult<i64> {
    video_del_rec::table.count().get_result(conn)
}
