//! The queue as the API and the admin panel show it.

use chrono::NaiveDateTime;
use serde_json::{json, Value};

use crate::db::jobs::JobRow;

/// A time as RFC 3339 with milliseconds, in UTC.
pub fn time(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One run, as JSON.
pub fn job_json(job: &JobRow) -> Value {
    json!({
        "id": job.id,
        "kind": job.kind,
        "payload": serde_json::from_str::<Value>(&job.payload).unwrap_or(Value::Null),
        "state": job.state,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": time(job.run_at),
        "locked_by": job.locked_by,
        "locked_until": job.locked_until.map(time),
        "last_error": job.last_error,
        "result": job.result,
        "created_at": time(job.created_at),
        "started_at": job.started_at.map(time),
        "finished_at": job.finished_at.map(time),
    })
}

/// Jobs per state, every state present (0 when none).
pub fn queue_json(counts: Vec<(String, i64)>) -> Value {
    let mut queue = json!({"queued": 0, "running": 0, "failed": 0, "done": 0, "dead": 0});
    for (state, n) in counts {
        queue[state] = json!(n);
    }
    queue
}
