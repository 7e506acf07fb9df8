//! Queries on `danmaku` (live-room messages) and `room_bans`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use roomcast_actors::protocol::{Item, Mode};
use roomcast_actors::store::StoredItem;

use super::schema::{danmaku, room_bans, rooms, users};
use super::DbConnection;

#[derive(Insertable)]
#[diesel(table_name = danmaku)]
struct NewDanmaku<'a> {
    id: &'a str,
    room_id: Option<&'a str>,
    author_id: &'a str,
    text: &'a str,
    color: &'a str,
    mode: &'a str,
    created_at: NaiveDateTime,
}

fn from_unix_us(us: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .naive_utc()
}

/// Saves one window's messages in a transaction.
pub fn insert_room_batch(
    conn: &mut DbConnection,
    room_id: &str,
    items: &[StoredItem],
) -> QueryResult<()> {
    let rows: Vec<NewDanmaku<'_>> = items
        .iter()
        .map(|s| NewDanmaku {
            id: &s.item.id,
            room_id: Some(room_id),
            author_id: &s.author_id,
            text: &s.item.text,
            color: &s.item.color,
            mode: s.item.mode.as_str(),
            created_at: from_unix_us(s.accepted_us),
        })
        .collect();
    conn.transaction(|conn| {
        // A batch is saved whole or not at all, so one that is saved again (the answer to
        // its first commit was lost) is found by its first message and kept as it was.
        if let Some(first) = rows.first() {
            let saved: i64 = danmaku::table
                .filter(danmaku::id.eq(first.id))
                .count()
                .get_result(conn)?;
            if saved > 0 {
                return Ok(());
            }
        }
        // Row by row: the multi-backend connection has no batch insert for both backends.
        for row in &rows {
            diesel::insert_into(danmaku::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The newest `limit` messages of a room, oldest first.
pub fn recent_in_room(
    conn: &mut DbConnection,
    room_id: &str,
    limit: i64,
) -> QueryResult<Vec<Item>> {
    let rows: Vec<(String, String, String, String, String, NaiveDateTime)> = danmaku::table
        .inner_join(users::table)
        .filter(danmaku::room_id.eq(room_id))
        .order(danmaku::created_at.desc())
        .limit(limit)
        .select((
            danmaku::id,
            users::username,
            danmaku::text,
            danmaku::color,
            danmaku::mode,
            danmaku::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .rev()
        .map(|(id, user, text, color, mode, at)| Item {
            id,
            user,
            text,
            color,
            mode: Mode::parse(&mode).unwrap_or_default(),
            at: at.and_utc().timestamp_millis(),
        })
        .collect())
}

/// Deletes a message of a room; false when the room has no such message.
pub fn delete_in_room(conn: &mut DbConnection, room_id: &str, id: &str) -> QueryResult<bool> {
    diesel::delete(
        danmaku::table
            .filter(danmaku::room_id.eq(room_id))
            .filter(danmaku::id.eq(id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Bans (or re-bans) a user in a room until `until`.
pub fn ban(
    conn: &mut DbConnection,
    room_id: &str,
    user_id: &str,
    until: NaiveDateTime,
    reason: &str,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(
            room_bans::table
                .filter(room_bans::room_id.eq(room_id))
                .filter(room_bans::user_id.eq(user_id)),
        )
        .execute(conn)?;
        diesel::insert_into(room_bans::table)
            .values((
                room_bans::room_id.eq(room_id),
                room_bans::user_id.eq(user_id),
                room_bans::until.eq(until),
                room_bans::reason.eq(reason),
            ))
            .execute(conn)
            .map(drop)
    })
}

/// Bans of a room that have not ended.
pub fn active_bans(
    conn: &mut DbConnection,
    room_id: &str,
) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    room_bans::table
        .filter(room_bans::room_id.eq(room_id))
        .filter(room_bans::until.gt(Utc::now().naive_utc()))
        .select((room_bans::user_id, room_bans::until))
        .load(conn)
}

/// A live-room message as moderators see it: with its room's title and its author's name.
#[derive(Debug, Clone, Queryable)]
pub struct ModerationRow {
    pub id: String,
    pub room_id: String,
    pub room_title: String,
    pub author: String,
    pub text: String,
    pub created_at: NaiveDateTime,
}

/// The newest live-room messages across every room, newest first.
pub fn recent_across_rooms(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<ModerationRow>> {
    danmaku::table
        .inner_join(users::table)
        .inner_join(rooms::table.on(danmaku::room_id.eq(rooms::id.nullable())))
        .order((danmaku::created_at.desc(), danmaku::id.desc()))
        .limit(limit)
        .select((
            danmaku::id,
            rooms::id,
            rooms::title,
            users::username,
            danmaku::text,
            danmaku::created_at,
        ))
        .load(conn)
}
