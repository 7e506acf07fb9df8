//! Roomcast actors: everything that lives and reacts. Rooms, viewer connections, ingest
//! pipelines and scheduled jobs are actix actors exchanging typed messages.
//!
//! This crate holds no HTTP routing and no SQL: persistence comes in through small traits
//! (for example [`jobs::SessionStore`]) that the app implements over its database.
//!
//! # Layout
//! - [`scheduler`]: the `Scheduler` actor, which runs periodic jobs off its own thread.
//! - [`jobs`]: one small, idempotent job type per file.

pub mod jobs;
pub mod scheduler;

pub use scheduler::{Job, JobOutcome, ListSchedules, RunJobNow, Schedule, ScheduleInfo, Scheduler};
