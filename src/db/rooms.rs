//! Queries on `rooms`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{rooms, users};
use super::DbConnection;

/// A room with its owner's username.
#[derive(Debug, Clone, Queryable)]
pub struct RoomRow {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub source_url: Option<String>,
    pub on_demand: bool,
    pub created_at: NaiveDateTime,
    /// An admin stopped the source; it stays stopped until started again.
    pub source_stopped: bool,
    /// One message per user per this many seconds; 0 is off.
    pub slow_mode_secs: i32,
    pub owner: String,
}

/// Values for a new room.
#[derive(Debug, Insertable)]
#[diesel(table_name = rooms)]
pub struct NewRoom<'a> {
    pub id: &'a str,
    pub owner_id: &'a str,
    pub title: &'a str,
    pub source_url: Option<&'a str>,
    pub on_demand: bool,
    pub created_at: NaiveDateTime,
}

type RoomColumns = (
    rooms::id,
    rooms::owner_id,
    rooms::title,
    rooms::source_url,
    rooms::on_demand,
    rooms::created_at,
    rooms::source_stopped,
    rooms::slow_mode_secs,
    users::username,
);

const COLUMNS: RoomColumns = (
    rooms::id,
    rooms::owner_id,
    rooms::title,
    rooms::source_url,
    rooms::on_demand,
    rooms::created_at,
    rooms::source_stopped,
    rooms::slow_mode_secs,
    users::username,
);

pub fn insert(conn: &mut DbConnection, room: &NewRoom<'_>) -> QueryResult<()> {
    diesel::insert_into(rooms::table)
        .values(room)
        .execute(conn)
        .map(drop)
}

/// Inserts a room with a fresh id and returns the id.
pub fn create(
    conn: &mut DbConnection,
    owner_id: &str,
    title: &str,
    source_url: Option<&str>,
    on_demand: bool,
) -> QueryResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    insert(
        conn,
        &NewRoom {
            id: &id,
            owner_id,
            title,
            source_url,
            on_demand,
            created_at: chrono::Utc::now().naive_utc(),
        },
    )?;
    Ok(id)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RoomRow>> {
    rooms::table
        .inner_join(users::table)
        .filter(rooms::id.eq(id))
        .select(COLUMNS)
        .first(conn)
        .optional()
}

/// Newest first.
pub fn list(conn: &mut DbConnection, limit: i64, offset: i64) -> QueryResult<Vec<RoomRow>> {
    rooms::table
        .inner_join(users::table)
        .order((rooms::created_at.desc(), rooms::id))
        .limit(limit)
        .offset(offset)
        .select(COLUMNS)
        .load(conn)
}

/// What an admin may change on a room; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = rooms)]
pub struct RoomChanges {
    pub title: Option<String>,
    /// `Some(None)` removes the source.
    pub source_url: Option<Option<String>>,
    pub on_demand: Option<bool>,
    pub source_stopped: Option<bool>,
    pub slow_mode_secs: Option<i32>,
}

/// Applies `changes`; false when there is no such room.
pub fn update(conn: &mut DbConnection, id: &str, changes: &RoomChanges) -> QueryResult<bool> {
    if changes.title.is_none()
        && changes.source_url.is_none()
        && changes.on_demand.is_none()
        && changes.source_stopped.is_none()
        && changes.slow_mode_secs.is_none()
    {
        return Ok(find(conn, id)?.is_some());
    }
    diesel::update(rooms::table.filter(rooms::id.eq(id)))
        .set(changes)
        .execute(conn)
        .map(|n| n == 1)
}

/// Every room with a live source (to start their pipelines).
pub fn with_sources(conn: &mut DbConnection) -> QueryResult<Vec<RoomRow>> {
    rooms::table
        .inner_join(users::table)
        .filter(rooms::source_url.is_not_null())
        .select(COLUMNS)
        .load(conn)
}

/// The ids of rooms that have a live source.
pub fn with_source_ids(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    rooms::table
        .filter(rooms::source_url.is_not_null())
        .select(rooms::id)
        .load(conn)
}

/// Records an admin's stop (`true`) or start of the room's source; false when there is no
/// such room.
pub fn set_source_stopped(conn: &mut DbConnection, id: &str, stopped: bool) -> QueryResult<bool> {
    diesel::update(rooms::table.filter(rooms::id.eq(id)))
        .set(rooms::source_stopped.eq(stopped))
        .execute(conn)
        .map(|n| n == 1)
}

/// The secret part of the room's stream key, if one was made (`None` also when there is no
/// such room).
pub fn stream_key(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    rooms::table
        .filter(rooms::id.eq(id))
        .select(rooms::stream_key)
        .first::<Option<String>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Sets the secret part of the room's stream key; false when there is no such room.
pub fn set_stream_key(conn: &mut DbConnection, id: &str, key: &str) -> QueryResult<bool> {
    diesel::update(rooms::table.filter(rooms::id.eq(id)))
        .set(rooms::stream_key.eq(key))
        .execute(conn)
        .map(|n| n == 1)
}

/// Sets the room's stream key only if it has none yet (two first requests at once agree
/// on one key); false when it already had one or there is no such room.
pub fn set_stream_key_once(conn: &mut DbConnection, id: &str, key: &str) -> QueryResult<bool> {
    diesel::update(
        rooms::table
            .filter(rooms::id.eq(id))
            .filter(rooms::stream_key.is_null()),
    )
    .set(rooms::stream_key.eq(key))
    .execute(conn)
    .map(|n| n == 1)
}
