//! Every job kind of the node, one per file, and their registration list (`kinds`), with
//! the app's side of the queue: `DbJobQueue` (the queue of `roomcast-actors` over the `jobs`
//! and `job_schedules` tables) and `JobSystem`, which starts the node's `JobWorker` and
//! `Scheduler` and enqueues jobs on request. The generic runner lives in `roomcast-actors`.
//!
//! A new job kind: a file here with a struct implementing `roomcast_actors::Job`, and an
//! entry in `kinds` (with its period setting under `[jobs]`, if it is periodic).

pub mod cleanup_deleted_videos;
pub mod delete_expired_sessions;
pub mod process_upload;
pub mod prune_job_runs;
pub mod purge_live_segments;
pub mod sweep_orphan_files;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{NaiveDateTime, TimeDelta, Utc};
use roomcast_actors::port::PortResult;
use roomcast_actors::{
    Job, JobQueue, JobWorker, LeasedJob, Outcome, Scheduler, WakeWorker, WorkerSettings,
};

use crate::config::Settings;
use crate::db::{self, jobs::Finish, DbError, DbPool};
use crate::media::{MediaTools, Storage};
pub use cleanup_deleted_videos::CleanupDeletedVideos;
pub use delete_expired_sessions::DeleteExpiredSessions;
pub use process_upload::ProcessUpload;
pub use prune_job_runs::PruneJobRuns;
pub use purge_live_segments::PurgeLiveSegments;
pub use sweep_orphan_files::SweepOrphanFiles;

/// How often the scheduler looks for due schedules.
const SCHEDULER_TICK: Duration = Duration::from_secs(1);

/// A job kind and, for periodic ones, its period.
pub struct Kind {
    pub job: Arc<dyn Job>,
    pub every: Option<Duration>,
}

/// Every job kind this node runs, each with its period.
pub fn kinds(
    pool: &DbPool,
    settings: &Settings,
    storage: &Storage,
    tools: &MediaTools,
) -> Vec<Kind> {
    let secs = Duration::from_secs;
    let jobs = &settings.jobs;
    vec![
        Kind {
            job: Arc::new(CleanupDeletedVideos {
                pool: pool.clone(),
                storage: storage.clone(),
                cpu_share: jobs.cpu_share,
            }),
            every: Some(secs(jobs.cleanup_deleted_videos_secs)),
        },
        Kind {
            job: Arc::new(DeleteExpiredSessions { pool: pool.clone() }),
            every: Some(secs(jobs.delete_expired_sessions_secs)),
        },
        Kind {
            job: Arc::new(PurgeLiveSegments {
                pool: pool.clone(),
                storage: storage.clone(),
            }),
            every: Some(secs(jobs.purge_live_segments_secs)),
        },
        Kind {
            job: Arc::new(SweepOrphanFiles {
                pool: pool.clone(),
                storage: storage.clone(),
                resumable_expiry: secs(settings.upload.resumable_expiry_secs),
            }),
            every: Some(secs(jobs.sweep_orphan_files_secs)),
        },
        Kind {
            job: Arc::new(PruneJobRuns {
                pool: pool.clone(),
                keep: secs(jobs.keep_runs_secs),
            }),
            every: Some(secs(jobs.prune_job_runs_secs)),
        },
        Kind {
            job: Arc::new(ProcessUpload {
                pool: pool.clone(),
                storage: storage.clone(),
                tools: tools.clone(),
            }),
            every: None,
        },
    ]
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn after(d: Duration) -> NaiveDateTime {
    now() + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The queue over the database.
pub struct DbJobQueue {
    pool: DbPool,
    kinds: Vec<&'static str>,
    max_attempts: i32,
}

impl JobQueue for DbJobQueue {
    fn lease(
        &self,
        kind: &str,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> PortResult<Vec<LeasedJob>> {
        let mut conn = self.pool.get().map_err(db::port)?;
        let rows = db::jobs::lease(&mut conn, kind, worker, limit as i64, after(lease), now())
            .map_err(db::port)?;
        Ok(rows
            .into_iter()
            .map(|r| LeasedJob {
                id: r.id,
                kind: r.kind,
                payload: r.payload,
                attempts: r.attempts,
                max_attempts: r.max_attempts,
            })
            .collect())
    }

    fn renew(&self, ids: &[String], worker: &str, lease: Duration) -> PortResult<()> {
        let mut conn = self.pool.get().map_err(db::port)?;
        db::jobs::renew(&mut conn, ids, worker, after(lease))
            .map(drop)
            .map_err(db::port)
    }

    fn finish(&self, id: &str, worker: &str, outcome: &Outcome) -> PortResult<bool> {
        let how = match outcome {
            Outcome::Done(summary) => Finish::Done(summary),
            Outcome::Retry {
                error,
                after: delay,
            } => Finish::Retry {
                error,
                at: after(*delay),
            },
            Outcome::Dead(error) => Finish::Dead(error),
        };
        let mut conn = self.pool.get().map_err(db::port)?;
        db::jobs::finish(&mut conn, id, worker, how, now()).map_err(db::port)
    }

    fn enqueue_due(&self) -> PortResult<Vec<String>> {
        let mut conn = self.pool.get().map_err(db::port)?;
        db::jobs::enqueue_due(&mut conn, &self.kinds, self.max_attempts, now()).map_err(db::port)
    }
}

/// The node's worker and scheduler, and what the API needs to enqueue jobs.
#[derive(Clone)]
pub struct JobSystem {
    pool: DbPool,
    worker: Addr<JobWorker>,
    kinds: Arc<Vec<&'static str>>,
    max_attempts: i32,
    pub worker_id: String,
}

impl JobSystem {
    /// Registers the schedules and starts the worker and the scheduler.
    pub async fn start(
        pool: &DbPool,
        settings: &Settings,
        storage: &Storage,
        tools: &MediaTools,
    ) -> Result<Self, DbError> {
        let kinds = kinds(pool, settings, storage, tools);
        let schedules: Vec<(&'static str, i64)> = kinds
            .iter()
            .filter_map(|k| Some((k.job.kind(), k.every?.as_secs() as i64)))
            .collect();
        db::blocking(pool, move |conn| {
            for (kind, every) in &schedules {
                db::jobs::register_schedule(conn, kind, *every, now())?;
            }
            Ok(())
        })
        .await?;
        release_dead_workers(pool).await?;
        let names: Vec<&'static str> = kinds.iter().map(|k| k.job.kind()).collect();
        let max_attempts = settings.jobs.max_attempts;
        let queue = Arc::new(DbJobQueue {
            pool: pool.clone(),
            kinds: names.clone(),
            max_attempts,
        });
        let worker_id = worker_id();
        let worker = JobWorker::new(
            queue.clone(),
            kinds.into_iter().map(|k| k.job).collect(),
            WorkerSettings {
                worker_id: worker_id.clone(),
                poll: Duration::from_millis(settings.jobs.poll_ms),
                lease: Duration::from_secs(settings.jobs.lease_secs),
                retry_base: Duration::from_millis(settings.jobs.retry_base_ms),
            },
        )
        .start();
        Scheduler::new(queue, worker.clone().recipient(), SCHEDULER_TICK).start();
        Ok(Self {
            pool: pool.clone(),
            worker,
            kinds: Arc::new(names),
            max_attempts,
            worker_id,
        })
    }

    /// The job kinds, in order.
    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }

    /// Enqueues a run of `kind` now and wakes this node's worker. `None` for an unknown kind.
    pub async fn enqueue(&self, kind: &str, payload: &str) -> Result<Option<String>, DbError> {
        let Some(kind) = self.kinds.iter().find(|k| **k == kind).copied() else {
            return Ok(None);
        };
        let payload = payload.to_string();
        let max_attempts = self.max_attempts;
        let id = db::blocking(&self.pool, move |conn| {
            db::jobs::enqueue(conn, kind, &payload, max_attempts, now())
        })
        .await?;
        self.worker.do_send(WakeWorker);
        Ok(Some(id))
    }

    /// Wakes this node's worker (a dead job was put back in the queue).
    pub fn wake(&self) {
        self.worker.do_send(WakeWorker);
    }

    /// Puts this node's running jobs back in the queue (the node is leaving cleanly), so
    /// another node takes them at once instead of after their leases run out.
    pub async fn release_own(&self) -> Result<usize, DbError> {
        let workers = vec![self.worker_id.clone()];
        db::blocking(&self.pool, move |c| db::jobs::release(c, &workers, now())).await
    }
}

/// Puts back in the queue the running jobs of workers on this host whose process is gone
/// (killed, crashed): their leases would otherwise hold the jobs for `jobs.lease_secs`.
/// Workers of live processes and of other hosts keep their leases.
async fn release_dead_workers(pool: &DbPool) -> Result<(), DbError> {
    let host = hostname();
    let released = db::blocking(pool, move |c| {
        let dead: Vec<String> = db::jobs::running_workers(c)?
            .into_iter()
            .filter(|w| worker_process(w, &host).is_some_and(|pid| !process_alive(pid)))
            .collect();
        db::jobs::release(c, &dead, now())
    })
    .await?;
    if released > 0 {
        log::info!("released {released} jobs left running by a process that is gone");
    }
    Ok(())
}

/// The process id in a worker name of `host` (`{host}-{pid}-{random}`).
fn worker_process(worker: &str, host: &str) -> Option<u32> {
    let rest = worker.strip_prefix(host)?.strip_prefix('-')?;
    let (pid, random) = rest.split_once('-')?;
    (random.len() == 8).then_some(())?;
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "node".into())
}

/// This process's name in `locked_by`: host, process id and a random part.
fn worker_id() -> String {
    let host = hostname();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_name_gives_its_process_only_on_its_own_host() {
        assert_eq!(worker_process("web-1-4242-0a1b2c3d", "web-1"), Some(4242));
        assert_eq!(worker_process("web-1-4242-0a1b2c3d", "web-2"), None);
        assert_eq!(worker_process("web-10-4242-0a1b2c3d", "web-1"), None);
        assert_eq!(worker_process("web-1-x-0a1b2c3d", "web-1"), None);
        assert_eq!(
            worker_process(&worker_id(), &hostname()),
            Some(std::process::id())
        );
        assert!(process_alive(std::process::id()));
    }
}
