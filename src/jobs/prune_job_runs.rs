//! `PruneJobRuns`: deletes finished (`done`) job runs older than `jobs.keep_runs_secs`, so
//! the jobs table does not grow with every scheduled run. Dead runs stay for an admin to
//! read or retry. Idempotent: a second run finds nothing old enough.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use roomcast_actors::Job;

use crate::db::{self, DbPool};

pub struct PruneJobRuns {
    pub pool: DbPool,
    pub keep: Duration,
}

impl Job for PruneJobRuns {
    fn kind(&self) -> &'static str {
        "prune_job_runs"
    }

    fn run(&self, _payload: &str) -> Result<String, String> {
        let keep = TimeDelta::from_std(self.keep).map_err(|e| e.to_string())?;
        let cutoff = Utc::now().naive_utc() - keep;
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let deleted = db::jobs::delete_done_before(&mut conn, cutoff).map_err(|e| e.to_string())?;
        Ok(format!("deleted {deleted} finished runs"))
    }
}
