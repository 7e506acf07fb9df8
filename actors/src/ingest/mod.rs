//! Live ingest: turning a camera's or encoder's stream into what browsers play.
//!
//! # Layout
//! - [`command`]: the ffmpeg command line of one source.
//! - [`fmp4`]: splitting ffmpeg's fragmented MP4 into the init segment and fragments.
//! - [`backoff`]: when to restart a pipeline that failed.

pub mod backoff;
pub mod child;
pub mod command;
pub mod fmp4;
pub mod pipeline;
