//! What the pipeline is told and asked, by viewers, admins, the supervisor and other nodes.

use actix::prelude::*;

use super::super::fanout::VideoFrame;
use super::super::status::{IngestAction, IngestStatus};

/// Adds a video viewer; it receives the init segment and the fragments since the last
/// keyframe at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JoinVideo {
    pub viewer: u64,
    pub to: Recipient<VideoFrame>,
}

/// Removes a video viewer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeaveVideo {
    pub viewer: u64,
}

/// Starts, stops or restarts the source.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ControlIngest {
    pub action: IngestAction,
}

/// An admin's control sent by another node; only the holder acts on it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoteControl {
    pub action: IngestAction,
}

/// The supervisor let the pipeline go (its source changed or was removed, or the node is
/// stopping): it stops its ffmpeg and leaves the bus, on this node only.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

/// Makes this node the source's puller (`true`) or a follower of another node (`false`).
/// `stopped` is the admin's stop as stored: a new puller keeps to it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetRole {
    pub holder: bool,
    pub stopped: bool,
}

/// A new video viewer (on any node) woke an on-demand source an admin had stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SourceWoken {
    pub room_id: String,
}

/// Another node has a new video viewer for this on-demand source.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Demanded;

/// What the node's heartbeat and lease rounds hear about this pipeline.
#[derive(Message)]
#[rtype(result = "PipelineReport")]
pub struct GetReport;

#[derive(Debug, Default)]
pub struct PipelineReport {
    /// Video viewers on this node.
    pub viewers: usize,
    /// The status, if this node pulls the source or has its publisher.
    pub status: Option<IngestStatus>,
    /// The connection id of the publisher whose stream this node runs.
    pub publisher: Option<u64>,
}

/// The pipeline's state for the API and the admin panel.
#[derive(Message)]
#[rtype(result = "IngestStatus")]
pub struct GetIngestStatus;

/// A publisher asks to push to this (pushed) source. Refused while another one is live or
/// when the source is pulled.
#[derive(Message)]
#[rtype(result = "Result<(), PushRefused>")]
pub struct AttachPublisher {
    pub publisher: u64,
    /// Notified when the publisher must be cut off (kicked, replaced, or its run failed).
    pub cut_off: std::sync::Arc<tokio::sync::Notify>,
}

/// The attached publisher's stream is ready: its FLV bytes, and the codecs its first tags
/// named (so the run copies or transcodes from the start).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartFeed {
    pub publisher: u64,
    pub feed: super::super::child::Feed,
    pub video: Option<String>,
    pub audio: Option<String>,
}

/// The publisher left (or was cut off): the run ends without back-off.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DetachPublisher {
    pub publisher: u64,
}

/// Why a publisher was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushRefused {
    /// Another publisher is live.
    Busy,
    /// The room's video is pulled from a source URL.
    PullSource,
}

/// Cuts the publisher off (its key was replaced, or it was kicked); the run ends without
/// back-off.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CutOffPublisher;

/// What the publisher's connection knows of it now (codecs, picture, rate).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReportPublisher {
    pub publisher: u64,
    pub info: super::super::status::PublisherInfo,
}
