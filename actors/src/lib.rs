//! Roomcast actors: everything that lives and reacts. Rooms, viewer connections, ingest
//! pipelines and scheduled jobs are actix actors exchanging typed messages.
//!
//! This crate holds no HTTP routing and no SQL: persistence comes in through small traits
//! (for example [`store::DanmakuStore`]) that the app implements over its database.
//!
//! # Layout
//! - [`protocol`], [`danmaku`], [`compress`]: the live-room wire protocol, validated
//!   danmaku input, and the raw DEFLATE of compressed frames.
//! - [`registry`], [`room`], [`hub`], [`viewer`]: the danmaku engine. One `RoomRegistry`
//!   per node starts a `Room` per active room; each viewer socket is a `ViewerSession`; a
//!   `WorkerHub` per worker thread fans a room's frames out to its local viewers.
//! - [`bus`], [`view`], [`cluster`]: NATS between nodes; what each node knows of the others
//!   (a leaf the rooms and pipelines read); the `Cluster` actor that keeps it current.
//! - [`store`], [`port`], [`metrics`]: persistence as a trait, what can go wrong behind
//!   such a trait (out of reach for now, or failed), and Prometheus metrics.
//! - [`ingest`]: live sources (pipelines, their supervisor, video viewers); its own
//!   `# Layout` lists its parts.
//! - [`rtmp`]: publishers pushing with RTMP (OBS, ffmpeg), into a room's pipeline.
//! - [`socket`], [`process`]: what both kinds of socket share; child-process helpers.
//! - [`queue`], [`worker`], [`scheduler`]: the generic job runner (the `Job` trait, the
//!   `JobWorker` that leases and runs jobs, the `Scheduler` of periodic ones); the job kinds
//!   themselves live in the app's `jobs` module, one per file.

pub mod bus;
pub mod cluster;
pub mod compress;
pub mod danmaku;
pub mod filter;
pub mod hub;
pub mod ingest;
pub mod metrics;
pub mod port;
pub mod process;
pub mod protocol;
pub mod queue;
pub mod registry;
pub mod room;
pub mod rtmp;
pub mod scheduler;
pub mod socket;
pub mod store;
pub mod view;
pub mod viewer;
pub mod worker;

pub use queue::{Job, JobQueue, LeasedJob, Outcome};
pub use scheduler::Scheduler;
pub use worker::{JobWorker, WakeWorker, WorkerSettings};
