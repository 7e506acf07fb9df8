//! Queries on `ingest_leases`: which node pulls each live source, and which node has a
//! pushed room's publisher.
//!
//! A lease is taken with a conditional update (only if it is this node's or has expired) or,
//! when the room has no row yet, an insert that loses to a concurrent one on the key. Both are single
//! statements, so two nodes racing for one lease cannot both win on either backend.
//!
//! A pushed room's lease names its publisher (`publisher` is `NODE/CONNECTION`; `NULL` for
//! pulled sources): the fair share of pulled sources never counts or moves it, and a
//! publisher that leaves releases its own lease only.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use super::schema::ingest_leases;
use super::DbConnection;

/// Extends every lease of a pulled source `node` holds to `until`.
pub fn renew(conn: &mut DbConnection, node: &str, until: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        ingest_leases::table.filter(
            ingest_leases::node_id
                .eq(node)
                .and(ingest_leases::publisher.is_null()),
        ),
    )
    .set(ingest_leases::expires_at.eq(until))
    .execute(conn)
}

/// What a pushed room's lease says of its publisher: the node and the connection there.
pub fn publisher_token(node: &str, publisher: u64) -> String {
    format!("{node}/{publisher}")
}

/// Takes (or renews) the lease of pushed `room` for `publisher` on `node` until `until`: if
/// it is free, expired or already `node`'s. False when another node's publisher holds it.
pub fn take_pushed(
    conn: &mut DbConnection,
    room: &str,
    node: &str,
    publisher: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    claim_row(conn, room, node, Some(publisher), now, until)
}

/// Releases `publisher`'s lease of `room` (it left): a publisher on any node may take the
/// room at once. A newer publisher's lease is left alone.
pub fn release_pushed(conn: &mut DbConnection, room: &str, publisher: &str) -> QueryResult<usize> {
    diesel::delete(
        ingest_leases::table.filter(
            ingest_leases::room_id
                .eq(room)
                .and(ingest_leases::publisher.eq(publisher)),
        ),
    )
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
    claim_row(conn, room, node, None, now, until)
}

/// Makes `room`'s row `node`'s (for `publisher`, or a pulled source's when `None`) if it is
/// free, expired or already `node`'s.
fn claim_row(
    conn: &mut DbConnection,
    room: &str,
    node: &str,
    publisher: Option<&str>,
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
        ingest_leases::publisher.eq(publisher),
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
            ingest_leases::publisher.eq(publisher),
        ))
        .execute(conn);
    match inserted {
        Ok(n) => Ok(n > 0),
        // Another node inserted it first.
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Live (unexpired) holders of pulled sources by room.
pub fn holders(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = ingest_leases::table
        .filter(ingest_leases::expires_at.ge(now))
        .filter(ingest_leases::publisher.is_null())
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

/// Pulled sources whose lease expired before `before`: nobody has taken them since, so any
/// node may, whatever its share.
pub fn expired_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<Vec<String>> {
    ingest_leases::table
        .filter(ingest_leases::expires_at.lt(before))
        .filter(ingest_leases::publisher.is_null())
        .select(ingest_leases::room_id)
        .load(conn)
}

/// Gives up every lease of `node` (it is shutting down) so another node takes over at once.
pub fn release(conn: &mut DbConnection, node: &str) -> QueryResult<usize> {
    diesel::delete(ingest_leases::table.filter(ingest_leases::node_id.eq(node))).execute(conn)
}

/// Forgets the leases of pulled sources that are gone, and pushed rooms' leases that expired
/// (their node died with its publisher).
pub fn forget_except(
    conn: &mut DbConnection,
    rooms: &[String],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let pulled_gone = ingest_leases::publisher
        .is_null()
        .and(ingest_leases::room_id.ne_all(rooms));
    let pushed_expired = ingest_leases::publisher
        .is_not_null()
        .and(ingest_leases::expires_at.lt(now));
    diesel::delete(ingest_leases::table.filter(pulled_gone.or(pushed_expired))).execute(conn)
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
