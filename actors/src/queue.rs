//! The job queue's contract: what a job is, and what the `JobWorker` and the `Scheduler` need
//! from the store that holds the queue. The app implements `JobQueue` over its database
//! (`jobs` and `job_schedules`); delivery is at least once, so every job must be idempotent.

use std::time::Duration;

use crate::port::PortResult;

/// One kind of background work. Its body is blocking (queries, file system) and runs on the
/// blocking thread pool, never on an actor's thread.
pub trait Job: Send + Sync + 'static {
    /// A stable snake_case name: the `kind` of its rows, its schedule and its API path.
    fn kind(&self) -> &'static str;
    /// How many runs of this kind one node runs at the same time.
    fn concurrency(&self) -> usize {
        1
    }
    /// Background work runs at the lowest CPU priority, so traffic goes first. Work someone
    /// waits for (an upload becoming playable) answers `false` and runs at normal priority.
    fn background(&self) -> bool {
        true
    }
    /// Does the work once for `payload` (JSON, `{}` for scheduled runs). Returns a one-line
    /// summary, or the error that makes the run count as failed.
    fn run(&self, payload: &str) -> Result<String, String>;
}

/// A job this worker holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedJob {
    pub id: String,
    pub kind: String,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub max_attempts: i32,
}

/// How a run ended, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(String),
    /// Failed; run again after the delay.
    Retry {
        error: String,
        after: Duration,
    },
    /// Failed for the last time.
    Dead(String),
}

/// The store behind the queue. Every method blocks; callers run them on the blocking pool.
pub trait JobQueue: Send + Sync + 'static {
    /// Leases up to `limit` runnable jobs of `kind` for `lease`: queued or failed jobs whose
    /// `run_at` has come, and running jobs whose lease expired (their worker died). Each
    /// lease counts as an attempt. No two workers ever hold the same job.
    fn lease(
        &self,
        kind: &str,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> PortResult<Vec<LeasedJob>>;
    /// Extends the leases this worker still holds.
    fn renew(&self, ids: &[String], worker: &str, lease: Duration) -> PortResult<()>;
    /// Records how a run ended. `false` when the lease had been lost to another worker (the
    /// other run's outcome stands).
    fn finish(&self, id: &str, worker: &str, outcome: &Outcome) -> PortResult<bool>;
    /// Enqueues one run of each schedule whose time has come and is not paused, moving its
    /// next run on by its period; across nodes each period is enqueued once. Returns the
    /// kinds enqueued.
    fn enqueue_due(&self) -> PortResult<Vec<String>>;
}

/// Keeps a long job's use of the CPU to a share of one core: between units of work, `breathe`
/// sleeps long enough that the CPU time the thread used since the last breath is at most
/// `share` of the time. CPU time, not wall time: on a busy machine a unit takes longer to
/// run but costs the same, and only the cost is paced. A backlog is worked through more
/// slowly, and traffic on the same cores is not starved.
pub struct Pace {
    share: f64,
    since: Duration,
}

/// CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which lives on this stack frame.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if ok {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    } else {
        Duration::ZERO
    }
}

impl Pace {
    /// `share` is clamped to (0.01, 1]; 1 never sleeps.
    pub fn new(share: f64) -> Self {
        Self {
            share: share.clamp(0.01, 1.0),
            since: thread_cpu_time(),
        }
    }

    /// How long to rest after `worked`.
    pub fn rest_after(&self, worked: Duration) -> Duration {
        worked.mul_f64(1.0 / self.share - 1.0)
    }

    /// Call between units of work, on the thread that does them (blocking).
    pub fn breathe(&mut self) {
        let now = thread_cpu_time();
        let rest = self.rest_after(now.saturating_sub(self.since));
        if !rest.is_zero() {
            std::thread::sleep(rest);
        }
        self.since = now;
    }
}

/// The delay before attempt `attempts + 1`: `base` doubled per failed attempt, at most an hour.
pub fn retry_delay(base: Duration, attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
    base.saturating_mul(1 << doublings)
        .min(Duration::from_secs(3600))
}

/// What a run's result means for the job: done, another attempt, or dead.
pub fn outcome(result: Result<String, String>, job: &LeasedJob, retry_base: Duration) -> Outcome {
    match result {
        Ok(summary) => Outcome::Done(summary),
        Err(error) if job.attempts >= job.max_attempts => Outcome::Dead(error),
        Err(error) => Outcome::Retry {
            error,
            after: retry_delay(retry_base, job.attempts),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leased(attempts: i32) -> LeasedJob {
        LeasedJob {
            id: "j".into(),
            kind: "k".into(),
            payload: "{}".into(),
            attempts,
            max_attempts: 3,
        }
    }

    #[test]
    fn pace_rests_so_that_work_is_its_share_of_the_time() {
        let ms = Duration::from_millis;
        assert_eq!(Pace::new(0.1).rest_after(ms(10)), ms(90));
        assert_eq!(Pace::new(0.5).rest_after(ms(10)), ms(10));
        assert_eq!(Pace::new(1.0).rest_after(ms(10)), Duration::ZERO);
        assert_eq!(Pace::new(0.0).rest_after(ms(1)), ms(99), "at least 1 %");
    }

    #[test]
    fn pace_counts_cpu_time_not_sleep() {
        // Paced by wall time, 30 ms at a 10 % share would rest 270 ms.
        let mut pace = Pace::new(0.1);
        std::thread::sleep(Duration::from_millis(30));
        let before = std::time::Instant::now();
        pace.breathe();
        assert!(
            before.elapsed() < Duration::from_millis(150),
            "sleeping used no CPU, so there is little to rest for"
        );
    }

    #[test]
    fn the_delay_doubles_per_attempt_and_is_capped() {
        let base = Duration::from_secs(5);
        assert_eq!(retry_delay(base, 1), Duration::from_secs(5));
        assert_eq!(retry_delay(base, 2), Duration::from_secs(10));
        assert_eq!(retry_delay(base, 4), Duration::from_secs(40));
        assert_eq!(retry_delay(base, 30), Duration::from_secs(3600));
    }

    #[test]
    fn a_failure_is_retried_until_the_last_attempt_then_dead() {
        let base = Duration::from_secs(1);
        assert_eq!(
            outcome(Err("x".into()), &leased(1), base),
            Outcome::Retry {
                error: "x".into(),
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(
            outcome(Err("x".into()), &leased(3), base),
            Outcome::Dead("x".into())
        );
        assert_eq!(
            outcome(Ok("fine".into()), &leased(3), base),
            Outcome::Done("fine".into())
        );
    }
}
