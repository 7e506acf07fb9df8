//! Queries on `ingest_leases`: which node pulls each live source.
//!
//! A lease is taken with a conditional update (only if it is this node's or has expired) or,
//! when the room has no row yet, an insert that loses to a concurrent one on the key. Both are single
//! statements, so two nodes racing for one lease cannot both win on either backend.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use super::schema::ingest_leases;
use super::DbConnection;

/// Extends every lease `node` holds to `until`.
pub fn renew(conn: &mut DbConnection, node: &str, until: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(ingest_leases::table.filter(ingest_leases::node_id.eq(node)))
        .set(ingest_leases::expires_at.eq(until))
        .execute(conn)
}

/// Takes the lease of `room` for `node` until `until` if it is free, expired or already
/// `node`'s. True when `node` holds it afterwards.
pub fn take(
    conn: &mut DbConnection,
    room: &str,
    node: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(
        ingest_leases::table.filter(
            ingest_leases::room_id.eq(room).and(
                ingest_leases::node_id
                    .eq(node)
                    .or(ingest_leases::expires_at.lt(now)),
            ),
        ),
    )
    .set((
        ingest_leases::node_id.eq(node),
        ingest_leases::expires_at.eq(until),
    ))
    .execute(conn)?;
    if updated > 0 {
        return Ok(true);
    }
    let inserted = diesel::insert_into(ingest_leases::table)
        .values((
            ingest_leases::room_id.eq(room),
            ingest_leases::node_id.eq(node),
            ingest_leases::expires_at.eq(until),
        ))
        .execute(conn);
    match inserted {
        Ok(n) => Ok(n > 0),
        // Another node inserted it first.
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Live (unexpired) holders by room.
pub fn holders(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = ingest_leases::table
        .filter(ingest_leases::expires_at.ge(now))
        .select((ingest_leases::room_id, ingest_leases::node_id))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Gives `room`'s lease back if `node` holds it: it expires now, and a node below its share
/// takes it in its next round.
pub fn give_back(
    conn: &mut DbConnection,
    room: &str,
    node: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let expired = now - TimeDelta::seconds(1);
    diesel::update(
        ingest_leases::table.filter(
            ingest_leases::room_id
                .eq(room)
                .and(ingest_leases::node_id.eq(node)),
        ),
    )
    .set(ingest_leases::expires_at.eq(expired))
    .execute(conn)
    .map(|n| n == 1)
}

/// Rooms whose lease expired before `before`: nobody has taken them since, so any node
/// may, whatever its share.
pub fn expired_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<Vec<String>> {
    ingest_leases::table
        .filter(ingest_leases::expires_at.lt(before))
        .select(ingest_leases::room_id)
        .load(conn)
}

/// Gives up every lease of `node` (it is shutting down) so another node takes over at once.
pub fn release(conn: &mut DbConnection, node: &str) -> QueryResult<usize> {
    diesel::delete(ingest_leases::table.filter(ingest_leases::node_id.eq(node))).execute(conn)
}

/// Forgets leases of rooms that no longer have a source.
pub fn forget_except(conn: &mut DbConnection, rooms: &[String]) -> QueryResult<usize> {
    diesel::delete(ingest_leases::table.filter(ingest_leases::room_id.ne_all(rooms))).execute(conn)
}

/// `now + secs`.
pub fn after(now: NaiveDateTime, secs: u64) -> NaiveDateTime {
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(NaiveDateTime::MAX)
}

/// `now - secs`.
pub fn before(now: NaiveDateTime, secs: u64) -> NaiveDateTime {
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(NaiveDateTime::MIN)
}
