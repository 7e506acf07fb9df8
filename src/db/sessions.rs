//! Queries on `sessions`. Only the SHA-256 of a session token is ever stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{sessions, users};
use super::users::User;
use super::DbConnection;

/// A row of `sessions`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Values for a new session.
#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub user_id: &'a str,
    pub csrf_token: &'a str,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, session: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
        .map(drop)
}

/// The unexpired session with this token hash and its user, unless the user is disabled.
pub fn find_active(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(Session, User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::expires_at.gt(now))
        .filter(users::disabled_at.is_null())
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()
}

/// Moves a session's expiry forward (the sliding lifetime).
pub fn extend(conn: &mut DbConnection, id: &str, expires_at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)
        .map(drop)
}

pub fn delete_by_token_hash(conn: &mut DbConnection, token_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash))).execute(conn)
}

/// Deletes every session that expired before `now`; returns how many.
pub fn delete_expired(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)
}

/// Ends every session of a user; returns how many there were.
pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}
