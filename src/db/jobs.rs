//! Queries on `jobs` and `job_schedules`: the at-least-once queue.
//!
//! A job is `queued` (or `failed`, waiting for its retry) until a worker leases it: the lease
//! sets `running`, `locked_by`, `locked_until` and counts an attempt. A run ends `done`,
//! `failed` with `run_at` moved to the retry time, or `dead`. A `running` job whose lease has
//! expired (its worker died) can be leased again. On PostgreSQL the lease selects with
//! `FOR UPDATE SKIP LOCKED`, so several nodes share one queue without waiting on each other;
//! on SQLite it runs in an immediate (write-locked) transaction.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::schema::{job_schedules, jobs};
use super::DbConnection;

/// A row of `jobs`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub result: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// A row of `job_schedules`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_schedules)]
pub struct ScheduleRow {
    pub kind: String,
    pub every_secs: i64,
    pub paused: bool,
    pub next_run_at: NaiveDateTime,
}

/// How a run ended, as stored.
pub enum Finish<'a> {
    Done(&'a str),
    Retry { error: &'a str, at: NaiveDateTime },
    Dead(&'a str),
}

/// States a job waits in before a worker takes it.
const WAITING: [&str; 2] = ["queued", "failed"];

fn delta(secs: i64) -> TimeDelta {
    TimeDelta::try_seconds(secs).unwrap_or(TimeDelta::MAX)
}

/// Adds a job; returns its id.
pub fn enqueue(
    conn: &mut DbConnection,
    kind: &str,
    payload: &str,
    max_attempts: i32,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(&id),
            jobs::kind.eq(kind),
            jobs::payload.eq(payload),
            jobs::state.eq("queued"),
            jobs::attempts.eq(0),
            jobs::max_attempts.eq(max_attempts),
            jobs::run_at.eq(now),
            jobs::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The lease itself, written once for both backends (`$lock` adds the row locks).
macro_rules! lease_in {
    ($c:expr, $kind:expr, $worker:expr, $limit:expr, $until:expr, $now:expr, $($lock:tt)*) => {{
        let runnable = jobs::kind.eq($kind).and(
            jobs::state
                .eq_any(WAITING)
                .and(jobs::run_at.le($now))
                .or(jobs::state.eq("running").and(jobs::locked_until.lt($now))),
        );
        let ids: Vec<String> = jobs::table
            .select(jobs::id)
            .filter(runnable)
            .order(jobs::run_at.asc())
            .limit($limit)
            $($lock)*
            .load($c)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
            .set((
                jobs::state.eq("running"),
                jobs::locked_by.eq($worker),
                jobs::locked_until.eq($until),
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::started_at.eq($now),
            ))
            .execute($c)?;
        jobs::table
            .filter(jobs::id.eq_any(&ids))
            .select(JobRow::as_select())
            .load($c)
    }};
}

/// Leases up to `limit` runnable jobs of `kind` for `worker` until `until`.
pub fn lease(
    conn: &mut DbConnection,
    kind: &str,
    worker: &str,
    limit: i64,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Vec<JobRow>> {
    match conn {
        DbConnection::Postgres(pg) => pg.transaction(
            |c| lease_in!(c, kind, worker, limit, until, now, .for_update().skip_locked()),
        ),
        DbConnection::Sqlite(sqlite) => {
            sqlite.immediate_transaction(|c| lease_in!(c, kind, worker, limit, until, now,))
        }
    }
}

/// Extends `worker`'s leases on `ids` to `until`.
pub fn renew(
    conn: &mut DbConnection,
    ids: &[String],
    worker: &str,
    until: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::id.eq_any(ids))
            .filter(jobs::locked_by.eq(worker))
            .filter(jobs::state.eq("running")),
    )
    .set(jobs::locked_until.eq(until))
    .execute(conn)
}

/// Records how `worker`'s run of `id` ended. `false` if the worker no longer held the lease.
pub fn finish(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    how: Finish<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let held = jobs::table
        .filter(jobs::id.eq(id))
        .filter(jobs::locked_by.eq(worker))
        .filter(jobs::state.eq("running"));
    let none: Option<NaiveDateTime> = None;
    let changed = match how {
        Finish::Done(summary) => diesel::update(held)
            .set((
                jobs::state.eq("done"),
                jobs::result.eq(summary),
                jobs::finished_at.eq(now),
                jobs::locked_until.eq(none),
            ))
            .execute(conn)?,
        Finish::Retry { error, at } => diesel::update(held)
            .set((
                jobs::state.eq("failed"),
                jobs::last_error.eq(error),
                jobs::run_at.eq(at),
                jobs::locked_until.eq(none),
            ))
            .execute(conn)?,
        Finish::Dead(error) => diesel::update(held)
            .set((
                jobs::state.eq("dead"),
                jobs::last_error.eq(error),
                jobs::finished_at.eq(now),
                jobs::locked_until.eq(none),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// The workers that hold `running` jobs.
pub fn running_workers(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    jobs::table
        .filter(jobs::state.eq("running"))
        .select(jobs::locked_by)
        .distinct()
        .load::<Option<String>>(conn)
        .map(|v| v.into_iter().flatten().collect())
}

/// Puts the `running` jobs of `workers` back in the queue to run at `now`: their process
/// is gone (or leaving), so waiting out their leases would only delay them. The attempt
/// they used stays counted, so a job that kills its process cannot loop for ever.
pub fn release(
    conn: &mut DbConnection,
    workers: &[String],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let none: Option<NaiveDateTime> = None;
    let nobody: Option<String> = None;
    diesel::update(
        jobs::table
            .filter(jobs::state.eq("running"))
            .filter(jobs::locked_by.eq_any(workers)),
    )
    .set((
        jobs::state.eq("queued"),
        jobs::run_at.eq(now),
        jobs::locked_by.eq(nobody),
        jobs::locked_until.eq(none),
    ))
    .execute(conn)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<JobRow>> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

/// The newest jobs, optionally of one state.
pub fn recent(
    conn: &mut DbConnection,
    state: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<JobRow>> {
    let mut query = jobs::table
        .select(JobRow::as_select())
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(state) = state {
        query = query.filter(jobs::state.eq(state.to_string()));
    }
    query.load(conn)
}

/// How many jobs are in each state.
/// Deletes `done` runs that finished before `cutoff`; how many.
pub fn delete_done_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        jobs::table
            .filter(jobs::state.eq("done"))
            .filter(jobs::finished_at.lt(cutoff)),
    )
    .execute(conn)
}

pub fn count_by_state(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .group_by(jobs::state)
        .select((jobs::state, diesel::dsl::count_star()))
        .load(conn)
}

/// The last finished run of `kind` (done or dead).
pub fn last_finished(conn: &mut DbConnection, kind: &str) -> QueryResult<Option<JobRow>> {
    jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::finished_at.is_not_null())
        .order(jobs::finished_at.desc())
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

/// A dead job gets a new set of attempts. `false` if it is not dead.
pub fn retry_dead(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let none: Option<NaiveDateTime> = None;
    let changed = diesel::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::state.eq("dead")),
    )
    .set((
        jobs::state.eq("queued"),
        jobs::attempts.eq(0),
        jobs::run_at.eq(now),
        jobs::finished_at.eq(none),
        jobs::locked_until.eq(none),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Makes sure `kind` has a schedule with this period. A new schedule's first run is one
/// period away; a changed period takes effect from now.
pub fn register_schedule(
    conn: &mut DbConnection,
    kind: &str,
    every_secs: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let existing: Option<ScheduleRow> = job_schedules::table
        .find(kind)
        .select(ScheduleRow::as_select())
        .first(conn)
        .optional()?;
    let next = now + delta(every_secs);
    match existing {
        None => diesel::insert_into(job_schedules::table)
            .values((
                job_schedules::kind.eq(kind),
                job_schedules::every_secs.eq(every_secs),
                job_schedules::paused.eq(false),
                job_schedules::next_run_at.eq(next),
            ))
            .execute(conn)
            .map(drop),
        Some(row) if row.every_secs != every_secs => {
            diesel::update(job_schedules::table.find(kind))
                .set((
                    job_schedules::every_secs.eq(every_secs),
                    job_schedules::next_run_at.eq(row.next_run_at.min(next)),
                ))
                .execute(conn)
                .map(drop)
        }
        Some(_) => Ok(()),
    }
}

/// The schedules of `kinds` (those this version runs), each with its last finished run.
pub fn schedules_with_last_run(
    conn: &mut DbConnection,
    kinds: &[&str],
) -> QueryResult<Vec<(ScheduleRow, Option<JobRow>)>> {
    let mut out = Vec::new();
    for row in schedules(conn)? {
        if kinds.contains(&row.kind.as_str()) {
            let last = last_finished(conn, &row.kind)?;
            out.push((row, last));
        }
    }
    Ok(out)
}

pub fn schedules(conn: &mut DbConnection) -> QueryResult<Vec<ScheduleRow>> {
    job_schedules::table
        .order(job_schedules::kind.asc())
        .select(ScheduleRow::as_select())
        .load(conn)
}

/// Pauses or resumes a schedule. `false` if there is none of that kind.
pub fn set_paused(conn: &mut DbConnection, kind: &str, paused: bool) -> QueryResult<bool> {
    let changed = diesel::update(job_schedules::table.find(kind))
        .set(job_schedules::paused.eq(paused))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Enqueues one run of every unpaused schedule that is due, among `kinds` (those this node
/// can run), and moves each on by its period. The move is a compare-and-set on
/// `next_run_at`, so when several nodes tick at once exactly one enqueues. A kind that
/// still has a job waiting or running gets no second one. Returns the kinds enqueued.
/// True when a run of `kind` with `payload` is waiting or running.
pub fn has_pending(conn: &mut DbConnection, kind: &str, payload: &str) -> QueryResult<bool> {
    let pending: i64 = jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::payload.eq(payload))
        .filter(jobs::state.eq_any(["queued", "failed", "running"]))
        .count()
        .get_result(conn)?;
    Ok(pending > 0)
}

pub fn enqueue_due(
    conn: &mut DbConnection,
    kinds: &[&str],
    max_attempts: i32,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    let due: Vec<ScheduleRow> = job_schedules::table
        .filter(job_schedules::paused.eq(false))
        .filter(job_schedules::next_run_at.le(now))
        .filter(job_schedules::kind.eq_any(kinds))
        .select(ScheduleRow::as_select())
        .load(conn)?;
    let mut enqueued = Vec::new();
    for row in due {
        let took = conn.transaction(|c| {
            let moved = diesel::update(
                job_schedules::table
                    .filter(job_schedules::kind.eq(&row.kind))
                    .filter(job_schedules::next_run_at.eq(row.next_run_at)),
            )
            .set(job_schedules::next_run_at.eq(now + delta(row.every_secs)))
            .execute(c)?;
            if moved != 1 {
                return Ok(false);
            }
            let pending: i64 = jobs::table
                .filter(jobs::kind.eq(&row.kind))
                .filter(jobs::state.eq_any(["queued", "failed", "running"]))
                .count()
                .get_result(c)?;
            if pending > 0 {
                return Ok(false);
            }
            enqueue(c, &row.kind, "{}", max_attempts, now).map(|_| true)
        })?;
        if took {
            enqueued.push(row.kind);
        }
    }
    Ok(enqueued)
}
