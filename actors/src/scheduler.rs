//! `Scheduler`: owns the node's periodic jobs and runs each on its interval.
//!
//! A job body is blocking work (queries, file deletion), so it runs on the blocking thread
//! pool and reports back with `JobFinished`; the actor's own thread never waits. A job is
//! never run twice at once: a tick that finds the previous run still going is skipped.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;

/// One kind of periodic work.
pub trait Job: Send + Sync + 'static {
    /// A stable snake_case name, used in logs and by `RunJobNow`.
    fn kind(&self) -> &'static str;
    /// Does the work once. Blocking. Returns a one-line summary or the error.
    fn run(&self) -> Result<String, String>;
}

/// A job and how often it runs.
pub struct Schedule {
    pub job: Arc<dyn Job>,
    pub every: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done(String),
    Failed(String),
}

/// A schedule as the admin panel shows it.
#[derive(Debug, Clone)]
pub struct ScheduleInfo {
    pub kind: &'static str,
    pub every: Duration,
    pub running: bool,
    pub runs: u64,
    pub last_finished_at: Option<SystemTime>,
    pub last_outcome: Option<JobOutcome>,
}

/// Runs the job of this kind now, outside its schedule.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct RunJobNow {
    /// The job's `kind()`.
    pub kind: String,
}

/// Lists every schedule with its last run.
#[derive(Message)]
#[rtype(result = "Vec<ScheduleInfo>")]
pub struct ListSchedules;

/// A run finished on the blocking pool.
#[derive(Message)]
#[rtype(result = "()")]
struct JobFinished {
    /// Index into the schedules.
    index: usize,
    /// What the run returned.
    outcome: JobOutcome,
    /// How long it took.
    took: Duration,
}

struct Entry {
    schedule: Schedule,
    running: bool,
    runs: u64,
    last_finished_at: Option<SystemTime>,
    last_outcome: Option<JobOutcome>,
}

/// The node's scheduler. Start it once, outside the HTTP server's worker closure.
pub struct Scheduler {
    entries: Vec<Entry>,
}

impl Scheduler {
    pub fn new(schedules: Vec<Schedule>) -> Self {
        let entries = schedules
            .into_iter()
            .map(|schedule| Entry {
                schedule,
                running: false,
                runs: 0,
                last_finished_at: None,
                last_outcome: None,
            })
            .collect();
        Self { entries }
    }

    fn start_run(&mut self, index: usize, ctx: &mut Context<Self>) {
        let entry = &mut self.entries[index];
        if entry.running {
            log::debug!(
                "job {}: still running, tick skipped",
                entry.schedule.job.kind()
            );
            return;
        }
        entry.running = true;
        let job = Arc::clone(&entry.schedule.job);
        let me = ctx.address();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let outcome = match job.run() {
                Ok(summary) => JobOutcome::Done(summary),
                Err(error) => JobOutcome::Failed(error),
            };
            me.do_send(JobFinished {
                index,
                outcome,
                took: started.elapsed(),
            });
        });
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        for (index, entry) in self.entries.iter().enumerate() {
            ctx.run_interval(entry.schedule.every, move |act, ctx| {
                act.start_run(index, ctx)
            });
        }
        log::info!("scheduler: {} periodic jobs", self.entries.len());
    }
}

impl Handler<RunJobNow> for Scheduler {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: RunJobNow, ctx: &mut Context<Self>) -> Self::Result {
        let index = self
            .entries
            .iter()
            .position(|e| e.schedule.job.kind() == msg.kind)
            .ok_or_else(|| format!("no job of kind {:?}", msg.kind))?;
        self.start_run(index, ctx);
        Ok(())
    }
}

impl Handler<ListSchedules> for Scheduler {
    type Result = MessageResult<ListSchedules>;

    fn handle(&mut self, _: ListSchedules, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.entries
                .iter()
                .map(|e| ScheduleInfo {
                    kind: e.schedule.job.kind(),
                    every: e.schedule.every,
                    running: e.running,
                    runs: e.runs,
                    last_finished_at: e.last_finished_at,
                    last_outcome: e.last_outcome.clone(),
                })
                .collect(),
        )
    }
}

impl Handler<JobFinished> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: JobFinished, _: &mut Context<Self>) {
        let entry = &mut self.entries[msg.index];
        let kind = entry.schedule.job.kind();
        match &msg.outcome {
            JobOutcome::Done(summary) => log::info!("job {kind}: {summary} in {:?}", msg.took),
            JobOutcome::Failed(error) => log::warn!("job {kind}: failed: {error}"),
        }
        entry.running = false;
        entry.runs += 1;
        entry.last_finished_at = Some(SystemTime::now());
        entry.last_outcome = Some(msg.outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountRuns {
        runs: AtomicUsize,
        busy: AtomicUsize,
        overlaps: AtomicUsize,
        sleep: Duration,
    }

    impl Job for CountRuns {
        fn kind(&self) -> &'static str {
            "count_runs"
        }

        fn run(&self) -> Result<String, String> {
            if self.busy.fetch_add(1, Ordering::SeqCst) > 0 {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
            std::thread::sleep(self.sleep);
            self.busy.fetch_sub(1, Ordering::SeqCst);
            let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(format!("run {n}"))
        }
    }

    fn counter(sleep: Duration) -> Arc<CountRuns> {
        Arc::new(CountRuns {
            runs: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            overlaps: AtomicUsize::new(0),
            sleep,
        })
    }

    async fn wait_for_runs(addr: &Addr<Scheduler>, runs: u64) -> Vec<ScheduleInfo> {
        for _ in 0..200 {
            let list = addr.send(ListSchedules).await.unwrap();
            if list[0].runs >= runs {
                return list;
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the job did not reach {runs} runs");
    }

    #[actix_rt::test]
    async fn a_job_runs_on_its_interval_and_its_outcome_is_listed() {
        let job = counter(Duration::ZERO);
        let every = Duration::from_millis(20);
        let addr = Scheduler::new(vec![Schedule {
            job: job.clone(),
            every,
        }])
        .start();
        let list = wait_for_runs(&addr, 3).await;
        assert_eq!(list[0].kind, "count_runs");
        assert!(
            matches!(list[0].last_outcome, Some(JobOutcome::Done(ref s)) if s.starts_with("run "))
        );
    }

    #[actix_rt::test]
    async fn run_now_starts_a_run_and_unknown_kinds_are_refused() {
        let job = counter(Duration::ZERO);
        let every = Duration::from_secs(3600);
        let addr = Scheduler::new(vec![Schedule {
            job: job.clone(),
            every,
        }])
        .start();
        addr.send(RunJobNow {
            kind: "count_runs".into(),
        })
        .await
        .unwrap()
        .unwrap();
        wait_for_runs(&addr, 1).await;
        let err = addr
            .send(RunJobNow {
                kind: "nope".into(),
            })
            .await
            .unwrap();
        assert_eq!(err, Err("no job of kind \"nope\"".to_string()));
    }

    #[actix_rt::test]
    async fn a_slow_job_never_runs_twice_at_once() {
        let job = counter(Duration::from_millis(60));
        let every = Duration::from_millis(10);
        let addr = Scheduler::new(vec![Schedule {
            job: job.clone(),
            every,
        }])
        .start();
        wait_for_runs(&addr, 3).await;
        assert_eq!(job.overlaps.load(Ordering::SeqCst), 0);
    }
}
