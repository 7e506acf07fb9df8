//! `JobWorker`: one per node. It leases jobs from the queue, runs each on the blocking pool
//! and records how it ended. Each kind has its own concurrency limit; the actor's thread only
//! keeps the books (every query and every job body runs on the blocking pool).
//!
//! Each run gets a thread of its own, for background kinds at the lowest CPU priority
//! (nice 19; see [`crate::queue::Job::background`]): on a busy node
//! the kernel gives the request threads the CPU first, so a large cleanup slows down instead
//! of slowing traffic, and on an idle node it runs at full speed. Jobs keep their database
//! transactions short, so a job thread that holds SQLite's write lock while it waits for the
//! CPU makes other writers wait briefly (within the busy time-out), never fail. A job can
//! also cap its own CPU use with [`crate::queue::Pace`].
//!
//! It looks for work every `poll`, at once when woken (`WakeWorker`, sent after an enqueue on
//! this node), and again whenever a run ends. Leases are renewed every third of their length
//! while the run goes on, so only a dead worker's lease expires.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::port::PortResult;
use crate::queue::{outcome, Job, JobQueue, LeasedJob, Outcome};

/// How the worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// This worker's name in `locked_by` (unique per process).
    pub worker_id: String,
    /// How often the queue is polled when nothing wakes the worker.
    pub poll: Duration,
    /// How long a lease lasts before another worker may take the job.
    pub lease: Duration,
    /// The first retry's delay; it doubles per failed attempt.
    pub retry_base: Duration,
}

/// Look for work now (a job was just enqueued).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WakeWorker;

/// A lease query came back.
#[derive(Message)]
#[rtype(result = "()")]
struct Leased {
    slot: usize,
    jobs: PortResult<Vec<LeasedJob>>,
}

/// A run ended and was recorded.
#[derive(Message)]
#[rtype(result = "()")]
struct Finished {
    slot: usize,
    id: String,
}

/// One job kind and the runs of it in flight.
struct Slot {
    job: Arc<dyn Job>,
    running: HashSet<String>,
    leasing: bool,
}

pub struct JobWorker {
    queue: Arc<dyn JobQueue>,
    slots: Vec<Slot>,
    settings: WorkerSettings,
}

impl JobWorker {
    pub fn new(
        queue: Arc<dyn JobQueue>,
        jobs: Vec<Arc<dyn Job>>,
        settings: WorkerSettings,
    ) -> Self {
        let slots = jobs
            .into_iter()
            .map(|job| Slot {
                job,
                running: HashSet::new(),
                leasing: false,
            })
            .collect();
        Self {
            queue,
            slots,
            settings,
        }
    }

    fn poll_all(&mut self, ctx: &mut Context<Self>) {
        for slot in 0..self.slots.len() {
            self.poll(slot, ctx);
        }
    }

    /// Leases as many jobs of the slot's kind as it has free places.
    fn poll(&mut self, slot: usize, ctx: &mut Context<Self>) {
        let entry = &mut self.slots[slot];
        let free = entry.job.concurrency().saturating_sub(entry.running.len());
        if entry.leasing || free == 0 {
            return;
        }
        entry.leasing = true;
        let kind = entry.job.kind();
        let queue = Arc::clone(&self.queue);
        let worker = self.settings.worker_id.clone();
        let lease = self.settings.lease;
        let me = ctx.address();
        tokio::task::spawn_blocking(move || {
            let jobs = queue.lease(kind, &worker, free, lease);
            me.do_send(Leased { slot, jobs });
        });
    }

    fn start_run(&mut self, slot: usize, job: LeasedJob, ctx: &mut Context<Self>) {
        let entry = &mut self.slots[slot];
        entry.running.insert(job.id.clone());
        let body = Arc::clone(&entry.job);
        let queue = Arc::clone(&self.queue);
        let worker = self.settings.worker_id.clone();
        let retry_base = self.settings.retry_base;
        let me = ctx.address();
        let name = format!("job-{}", job.kind);
        let (id, back) = (job.id.clone(), ctx.address());
        let background = body.background();
        let run = move || {
            if background {
                lower_priority();
            }
            let end = if job.attempts > job.max_attempts {
                // Leased again after its worker died on the last attempt.
                Outcome::Dead(format!(
                    "the lease expired {} times (the worker stopped while running it)",
                    job.attempts - 1
                ))
            } else {
                let result = catch_unwind(AssertUnwindSafe(|| body.run(&job.payload)))
                    .unwrap_or_else(|_| Err("the job panicked".to_string()));
                outcome(result, &job, retry_base)
            };
            match &end {
                Outcome::Done(summary) => log::info!("job {} {}: {summary}", job.kind, job.id),
                Outcome::Retry { error, after } => log::warn!(
                    "job {} {}: attempt {} failed, retrying in {after:?}: {error}",
                    job.kind,
                    job.id,
                    job.attempts
                ),
                Outcome::Dead(error) => log::error!(
                    "job {} {}: dead after {} attempts: {error}",
                    job.kind,
                    job.id,
                    job.attempts
                ),
            }
            match queue.finish(&job.id, &worker, &end) {
                Ok(true) => {}
                Ok(false) => log::warn!(
                    "job {} {}: the lease was lost before the run ended; the other run stands",
                    job.kind,
                    job.id
                ),
                Err(e) => log::error!("job {} {}: recording the outcome: {e}", job.kind, job.id),
            }
            me.do_send(Finished { slot, id: job.id });
        };
        if let Err(e) = std::thread::Builder::new().name(name).spawn(run) {
            // The job stays leased; when its lease runs out it is taken again.
            log::error!("starting a job thread: {e}");
            back.do_send(Finished { slot, id });
        }
    }

    fn renew(&mut self) {
        let ids: Vec<String> = self
            .slots
            .iter()
            .flat_map(|s| s.running.iter().cloned())
            .collect();
        if ids.is_empty() {
            return;
        }
        let queue = Arc::clone(&self.queue);
        let worker = self.settings.worker_id.clone();
        let lease = self.settings.lease;
        tokio::task::spawn_blocking(move || {
            if let Err(e) = queue.renew(&ids, &worker, lease) {
                log::warn!("renewing job leases: {e}");
            }
        });
    }
}

/// Nice value of job threads: the lowest priority.
const JOB_NICE: libc::c_int = 19;

/// Lowers the calling thread's CPU priority (Linux keeps a nice value per thread).
fn lower_priority() {
    // SAFETY: two system calls that read no memory of ours: gettid, then setpriority on the
    // calling thread only. A failure leaves the priority as it was, which is harmless.
    let done = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, JOB_NICE)
    };
    if done != 0 {
        log::debug!("could not lower a job thread's priority");
    }
}

impl Actor for JobWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.poll, |act, ctx| act.poll_all(ctx));
        ctx.run_interval(self.settings.lease / 3, |act, _| act.renew());
        self.poll_all(ctx);
        log::info!(
            "job worker {}: {} kinds",
            self.settings.worker_id,
            self.slots.len()
        );
    }
}

impl Handler<WakeWorker> for JobWorker {
    type Result = ();

    fn handle(&mut self, _: WakeWorker, ctx: &mut Context<Self>) {
        self.poll_all(ctx);
    }
}

impl Handler<Leased> for JobWorker {
    type Result = ();

    fn handle(&mut self, msg: Leased, ctx: &mut Context<Self>) {
        self.slots[msg.slot].leasing = false;
        match msg.jobs {
            Ok(jobs) => {
                let got = !jobs.is_empty();
                for job in jobs {
                    self.start_run(msg.slot, job, ctx);
                }
                // A full batch may mean more is waiting.
                if got {
                    self.poll(msg.slot, ctx);
                }
            }
            Err(e) if e.is_transient() => {
                log::warn!("leasing {} jobs: {e}", self.slots[msg.slot].job.kind())
            }
            Err(e) => log::error!("leasing {} jobs: {e}", self.slots[msg.slot].job.kind()),
        }
    }
}

impl Handler<Finished> for JobWorker {
    type Result = ();

    fn handle(&mut self, msg: Finished, ctx: &mut Context<Self>) {
        self.slots[msg.slot].running.remove(&msg.id);
        self.poll(msg.slot, ctx);
    }
}
