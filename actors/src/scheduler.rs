//! `Scheduler`: one per node. Every `tick` it asks the queue to enqueue the periodic jobs
//! whose time has come (`JobQueue::enqueue_due`: the schedules, their periods and their pause
//! state live in the store, so all nodes share them and each period is enqueued once), and
//! wakes the node's `JobWorker` when it did. The query runs on the blocking pool; a tick that
//! finds the previous one still going is skipped.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::port::PortResult;
use crate::queue::JobQueue;
use crate::worker::WakeWorker;

/// A tick's query came back.
#[derive(Message)]
#[rtype(result = "()")]
struct Enqueued(PortResult<Vec<String>>);

pub struct Scheduler {
    queue: Arc<dyn JobQueue>,
    worker: Recipient<WakeWorker>,
    tick: Duration,
    in_flight: bool,
}

impl Scheduler {
    pub fn new(queue: Arc<dyn JobQueue>, worker: Recipient<WakeWorker>, tick: Duration) -> Self {
        Self {
            queue,
            worker,
            tick,
            in_flight: false,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        self.in_flight = true;
        let queue = Arc::clone(&self.queue);
        let me = ctx.address();
        tokio::task::spawn_blocking(move || me.do_send(Enqueued(queue.enqueue_due())));
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.tick, |act, ctx| act.tick(ctx));
    }
}

impl Handler<Enqueued> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: Enqueued, _: &mut Context<Self>) {
        self.in_flight = false;
        match msg.0 {
            Ok(kinds) if !kinds.is_empty() => {
                log::debug!("scheduler: enqueued {}", kinds.join(", "));
                self.worker.do_send(WakeWorker);
            }
            Ok(_) => {}
            Err(e) if e.is_transient() => log::warn!("scheduler: enqueueing periodic jobs: {e}"),
            Err(e) => log::error!("scheduler: enqueueing periodic jobs: {e}"),
        }
    }
}
