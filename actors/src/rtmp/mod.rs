//! Going live from an encoder: RTMP publishers (OBS, ffmpeg, GStreamer) push to
//! `rtmp://HOST:PORT/live/KEY`. The protocol (handshake, chunk stream, AMF commands) is
//! `rml_rtmp`'s sans-IO server session; this module feeds it the socket's bytes, decides
//! each publish with the app (the stream key names a room), and hands the stream to that
//! room's pipeline as FLV on ffmpeg's stdin.
//!
//! # Layout
//! - [`flv`]: RTMP audio and video messages as an FLV stream, and their codecs.
//! - [`session`]: one publisher's connection.
//! - [`listener`]: the accept loop (plain TCP, or TLS for RTMPS).

pub mod flv;
pub mod listener;
pub mod session;

use std::time::Duration;

use actix::Addr;
use prometheus::{IntCounter, IntCounterVec, IntGauge};

use crate::ingest::command::IngestSpec;
use crate::ingest::supervisor::IngestSupervisor;
use crate::port::PortResult;

/// The only application name publishers may use.
pub const APP: &str = "live";

/// Why a publisher was turned away (the `reason` label of
/// `roomcast_ingest_publish_refused_total`: a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not `rtmp://HOST:PORT/live/...`.
    WrongApp,
    /// No room has this stream key.
    WrongKey,
    /// Another publisher is live in the room.
    Busy,
    /// The room's video is pulled from a source URL.
    PullSource,
    /// The database could not be asked.
    Unavailable,
    /// Bytes that are not RTMP, or a malformed chunk or AMF value.
    Malformed,
}

impl Refused {
    pub const ALL: [Refused; 6] = [
        Refused::WrongApp,
        Refused::WrongKey,
        Refused::Busy,
        Refused::PullSource,
        Refused::Unavailable,
        Refused::Malformed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Refused::WrongApp => "wrong_app",
            Refused::WrongKey => "wrong_key",
            Refused::Busy => "busy",
            Refused::PullSource => "pull_source",
            Refused::Unavailable => "unavailable",
            Refused::Malformed => "malformed",
        }
    }
}

/// What the app decides about a publish: the pushed source a stream key opens.
pub trait PublishGate: Send + Sync + 'static {
    /// The room's pushed source for `stream_key`; `Ok(Err(WrongKey))` when no room has it,
    /// `Ok(Err(PullSource))` when that room pulls its video from a URL. Compares keys in
    /// constant time. Blocks: call it off the async threads.
    fn open(&self, stream_key: &str) -> PortResult<Result<IngestSpec, Refused>>;

    /// Takes the room for `publisher` (this node's connection id) among nodes: false when a
    /// publisher on another node has it. Alone, a node always has it. Blocks.
    fn hold(&self, room_id: &str, publisher: u64) -> PortResult<bool>;

    /// `publisher` left: the room is free for a publisher on any node. Blocks.
    fn release(&self, room_id: &str, publisher: u64) -> PortResult<()>;
}

/// The publishers' metrics.
#[derive(Clone)]
pub struct RtmpMetrics {
    pub publishers: IntGauge,
    pub bytes_in: IntCounter,
    pub refused: IntCounterVec,
}

impl RtmpMetrics {
    pub fn new(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let publishers = IntGauge::new("roomcast_ingest_publishers", "Publishers pushing now")?;
        let bytes_in = IntCounter::new(
            "roomcast_ingest_publish_bytes_total",
            "Bytes received from publishers",
        )?;
        let refused = IntCounterVec::new(
            prometheus::Opts::new(
                "roomcast_ingest_publish_refused_total",
                "Publishers turned away, by reason",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(publishers.clone()))?;
        registry.register(Box::new(bytes_in.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        for reason in Refused::ALL {
            refused.with_label_values(&[reason.label()]);
        }
        Ok(Self {
            publishers,
            bytes_in,
            refused,
        })
    }
}

/// What every publisher's connection shares.
pub struct RtmpContext {
    pub gate: Box<dyn PublishGate>,
    pub ingest: Addr<IngestSupervisor>,
    pub metrics: RtmpMetrics,
    /// A publisher that sends nothing this long is dropped.
    pub idle_after: Duration,
}
