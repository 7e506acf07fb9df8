//! Live ingest: turning a camera's or encoder's stream into what browsers play.
//!
//! # Layout
//! - [`command`]: the ffmpeg command line of one source.
//! - [`fmp4`]: splitting ffmpeg's fragmented MP4 into the init segment and fragments.
//! - [`backoff`]: when to restart a pipeline that failed.
//! - [`child`]: one ffmpeg child, its reader threads and its reaping.
//! - [`lifecycle`]: the state machine of a source's ffmpeg runs.
//! - [`gop`], [`fanout`]: the keyframe cache and the video viewers fragments go to.
//! - [`demand`]: when an on-demand source runs.
//! - [`follow`]: a follower node's reading of the holder's stream.
//! - [`lease_plan`]: which node pulls which source (a pure function).
//! - [`rate`], [`redact`], [`status`]: delivered bitrate, secrets out of ffmpeg's lines,
//!   what a pipeline reports.
//! - [`pipeline`]: `IngestPipeline`, one actor per source, wiring the parts above.
//! - [`supervisor`]: `IngestSupervisor`, one per node, owning the pipelines.
//! - [`viewer`]: `VideoViewer`, one per video WebSocket.
//! - [`wire`]: live video packets between nodes.

pub mod backoff;
pub mod child;
pub mod command;
pub mod demand;
pub mod fanout;
pub mod fmp4;
pub mod follow;
pub mod gop;
pub mod lease_plan;
pub mod lifecycle;
pub mod pipeline;
pub mod rate;
pub mod redact;
pub mod status;
pub mod supervisor;
pub mod viewer;
pub mod wire;
