//! Live ingest: turning a camera's or encoder's stream into what browsers play.
//!
//! # Layout
//! - [`command`]: the ffmpeg command line of one source.
//! - [`fmp4`]: splitting ffmpeg's fragmented MP4 into the init segment and fragments.
//! - [`backoff`]: when to restart a pipeline that failed.
//! - [`child`]: one ffmpeg child, its reader threads and its reaping.
//! - [`pipeline`]: `IngestPipeline`, one actor per source.
//! - [`supervisor`]: `IngestSupervisor`, one per node, owning the pipelines.
//! - [`viewer`]: `VideoViewer`, one per video WebSocket.
//! - [`wire`]: live video packets between nodes.

pub mod backoff;
pub mod child;
pub mod command;
pub mod fmp4;
pub mod gop;
pub mod lease_plan;
pub mod pipeline;
pub mod rate;
pub mod redact;
pub mod status;
pub mod supervisor;
pub mod viewer;
pub mod wire;
