//! Live-room metrics, registered in the node's Prometheus registry.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Counters and gauges for rooms, viewers and frames. Cheap to clone.
#[derive(Clone)]
pub struct RoomMetrics {
    pub rooms: IntGauge,
    pub viewers: IntGauge,
    pub accepted: IntCounter,
    pub rejected: IntCounterVec,
    pub frames_sent: IntCounter,
    pub frames_dropped: IntCounter,
    /// Batches deflated for compressed viewers (once per room per window).
    pub frames_compressed: IntCounter,
    pub batch_size: Histogram,
    pub delivery_latency: Histogram,
    /// Live video: from a fragment read off ffmpeg's stdout to written to a viewer's socket.
    pub video_delivery: Histogram,
    /// Accepted danmaku given up after saving kept failing (or too many waited).
    pub save_dropped: IntCounter,
    /// Accepted danmaku waiting to be saved while the database is out of reach.
    pub save_pending: IntGauge,
    /// Other nodes' danmaku that arrived too late to be shown (held up by a bus outage).
    pub stale_dropped: IntCounter,
}

impl RoomMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = Self::unregistered();
        registry.register(Box::new(m.rooms.clone()))?;
        registry.register(Box::new(m.viewers.clone()))?;
        registry.register(Box::new(m.accepted.clone()))?;
        registry.register(Box::new(m.rejected.clone()))?;
        registry.register(Box::new(m.frames_sent.clone()))?;
        registry.register(Box::new(m.frames_dropped.clone()))?;
        registry.register(Box::new(m.frames_compressed.clone()))?;
        registry.register(Box::new(m.batch_size.clone()))?;
        registry.register(Box::new(m.delivery_latency.clone()))?;
        registry.register(Box::new(m.video_delivery.clone()))?;
        registry.register(Box::new(m.save_dropped.clone()))?;
        registry.register(Box::new(m.save_pending.clone()))?;
        registry.register(Box::new(m.stale_dropped.clone()))?;
        Ok(m)
    }

    /// Metrics that no registry exports (for tests and tools).
    pub fn unregistered() -> Self {
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        Self {
            rooms: gauge("roomcast_rooms_active", "Rooms with a running actor"),
            viewers: gauge("roomcast_room_viewers", "Connected danmaku viewers"),
            accepted: counter("roomcast_danmaku_accepted_total", "Danmaku accepted"),
            rejected: IntCounterVec::new(
                Opts::new(
                    "roomcast_danmaku_rejected_total",
                    "Danmaku refused, by reason",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            frames_sent: counter(
                "roomcast_danmaku_frames_sent_total",
                "Frames queued to viewers (one per viewer per frame)",
            ),
            frames_dropped: counter(
                "roomcast_danmaku_frames_dropped_total",
                "Frames dropped for viewers that did not keep up",
            ),
            frames_compressed: counter(
                "roomcast_danmaku_frames_compressed_total",
                "Batch frames deflated for compressed viewers (once per room per window)",
            ),
            batch_size: Histogram::with_opts(
                HistogramOpts::new("roomcast_danmaku_batch_size", "Messages per batch frame")
                    .buckets(vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]),
            )
            .expect("valid metric"),
            delivery_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "roomcast_danmaku_delivery_latency_seconds",
                    "From accepting a message to queueing its batch on a worker",
                )
                .buckets(vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.5, 1.0,
                ]),
            )
            .expect("valid metric"),
            video_delivery: Histogram::with_opts(
                HistogramOpts::new(
                    "roomcast_video_delivery_seconds",
                    "From a live fragment read off ffmpeg's stdout to written to a viewer's socket",
                )
                .buckets(vec![
                    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0,
                ]),
            )
            .expect("valid metric"),
            save_dropped: counter(
                "roomcast_danmaku_save_dropped_total",
                "Accepted danmaku given up after saving them kept failing",
            ),
            save_pending: gauge(
                "roomcast_danmaku_save_pending",
                "Accepted danmaku waiting to be saved (the database is out of reach)",
            ),
            stale_dropped: counter(
                "roomcast_danmaku_stale_dropped_total",
                "Other nodes' danmaku dropped on arrival because they were accepted too long ago",
            ),
        }
    }
}
