//! The job queue, for admins: running a kind now, retrying a dead run, pausing and resuming
//! a schedule; and the queue as the API and the panel show it.

mod pause;
mod retry;
mod run;
mod view;

pub use pause::set_paused;
pub use retry::retry_dead;
pub use run::run_now;
pub use view::{job_json, queue_json, time as timestamp};
