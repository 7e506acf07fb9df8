//! Queries on a room's moderation: `room_moderators`, `word_filters`, and the bans in
//! `room_bans` as moderators list and lift them.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{room_bans, room_moderators, rooms, users, word_filters};
use super::DbConnection;

/// The `word_filters` scope of the site's words.
pub const GLOBAL_SCOPE: &str = "*";

/// A moderator of a room, as the owner sees them.
#[derive(Debug, Clone, Queryable)]
pub struct ModeratorRow {
    pub user_id: String,
    pub username: String,
    pub since: NaiveDateTime,
}

/// The moderators the owner named, in the order they were named.
pub fn moderators(conn: &mut DbConnection, room_id: &str) -> QueryResult<Vec<ModeratorRow>> {
    room_moderators::table
        .inner_join(users::table)
        .filter(room_moderators::room_id.eq(room_id))
        .order((room_moderators::created_at, users::username))
        .select((users::id, users::username, room_moderators::created_at))
        .load(conn)
}

pub fn is_moderator(conn: &mut DbConnection, room_id: &str, user_id: &str) -> QueryResult<bool> {
    let n: i64 = room_moderators::table
        .filter(room_moderators::room_id.eq(room_id))
        .filter(room_moderators::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Names a moderator; false when they already were one.
pub fn add_moderator(conn: &mut DbConnection, room_id: &str, user_id: &str) -> QueryResult<bool> {
    if is_moderator(conn, room_id, user_id)? {
        return Ok(false);
    }
    diesel::insert_into(room_moderators::table)
        .values((
            room_moderators::room_id.eq(room_id),
            room_moderators::user_id.eq(user_id),
            room_moderators::created_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Removes a moderator; false when they were none.
pub fn remove_moderator(
    conn: &mut DbConnection,
    room_id: &str,
    user_id: &str,
) -> QueryResult<bool> {
    diesel::delete(
        room_moderators::table
            .filter(room_moderators::room_id.eq(room_id))
            .filter(room_moderators::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// The words of a scope (a room's id, or [`GLOBAL_SCOPE`]), sorted.
pub fn words(conn: &mut DbConnection, scope: &str) -> QueryResult<Vec<String>> {
    word_filters::table
        .filter(word_filters::scope.eq(scope))
        .order(word_filters::word)
        .select(word_filters::word)
        .load(conn)
}

/// Replaces the words of a scope with `words` (already cleaned: folded, unique).
pub fn set_words(conn: &mut DbConnection, scope: &str, words: &[String]) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(word_filters::table.filter(word_filters::scope.eq(scope))).execute(conn)?;
        // Row by row: the multi-backend connection has no batch insert for both backends.
        for word in words {
            diesel::insert_into(word_filters::table)
                .values((word_filters::scope.eq(scope), word_filters::word.eq(word)))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// A ban or mute that has not ended.
#[derive(Debug, Clone, Queryable)]
pub struct BanRow {
    pub user_id: String,
    pub username: String,
    pub until: NaiveDateTime,
    pub reason: String,
}

/// A room's bans and mutes that have not ended, the soonest to end first.
pub fn active_bans(conn: &mut DbConnection, room_id: &str) -> QueryResult<Vec<BanRow>> {
    room_bans::table
        .inner_join(users::table)
        .filter(room_bans::room_id.eq(room_id))
        .filter(room_bans::until.gt(Utc::now().naive_utc()))
        .order((room_bans::until, users::username))
        .select((
            users::id,
            users::username,
            room_bans::until,
            room_bans::reason,
        ))
        .load(conn)
}

/// Lifts a user's ban in a room; false when there was none.
pub fn unban(conn: &mut DbConnection, room_id: &str, user_id: &str) -> QueryResult<bool> {
    diesel::delete(
        room_bans::table
            .filter(room_bans::room_id.eq(room_id))
            .filter(room_bans::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// What the room's actor needs: its words, slow mode, owner and moderators.
pub fn room_rules(
    conn: &mut DbConnection,
    room_id: &str,
) -> QueryResult<(Vec<String>, i32, Vec<String>)> {
    let Some((owner, slow)) = rooms::table
        .filter(rooms::id.eq(room_id))
        .select((rooms::owner_id, rooms::slow_mode_secs))
        .first::<(String, i32)>(conn)
        .optional()?
    else {
        return Ok((Vec::new(), 0, Vec::new()));
    };
    let mut moderators: Vec<String> = room_moderators::table
        .filter(room_moderators::room_id.eq(room_id))
        .select(room_moderators::user_id)
        .load(conn)?;
    moderators.push(owner);
    Ok((words(conn, room_id)?, slow, moderators))
}

/// A ban or mute that has not ended, with its room, for the admin panel.
#[derive(Debug, Clone, Queryable)]
pub struct SiteBanRow {
    pub room_id: String,
    pub room_title: String,
    pub user_id: String,
    pub username: String,
    pub until: NaiveDateTime,
    pub reason: String,
}

/// Bans and mutes that have not ended, in every room, the soonest to end first.
pub fn active_bans_everywhere(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<SiteBanRow>> {
    room_bans::table
        .inner_join(users::table)
        .inner_join(rooms::table.on(rooms::id.eq(room_bans::room_id)))
        .filter(room_bans::until.gt(Utc::now().naive_utc()))
        .order((room_bans::until, users::username))
        .limit(limit)
        .select((
            rooms::id,
            rooms::title,
            users::id,
            users::username,
            room_bans::until,
            room_bans::reason,
        ))
        .load(conn)
}
