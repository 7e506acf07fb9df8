//! `AppState`: the node's shared parts as handlers and actions reach them (the pool, the
//! settings, the actors' addresses, the media tools and limits). Built once by
//! `startup::Application`; services below the actions take only the pieces they use.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix::Addr;
use prometheus::{Gauge, IntGauge};
use roomcast_actors::bus::Bus;
use roomcast_actors::cluster::SharedView;
use roomcast_actors::ingest::supervisor::IngestSupervisor;
use roomcast_actors::metrics::RoomMetrics;
use roomcast_actors::registry::RoomRegistry;

use crate::config::Settings;
use crate::db::DbPool;
use crate::jobs::JobSystem;
use crate::limits::Limits;
use crate::media::files::OpenFiles;
use crate::media::{MediaTools, Storage, StreamLimiter};
use crate::metrics::Metrics;
use crate::pages::home::HomeFeed;
use crate::videos::flood::VideoFlood;
use crate::videos::resumable::ResumableUploads;
use crate::videos::served::ServedVideos;

/// State every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    /// The absolute URL of the site, without a trailing slash.
    pub public_url: String,
    pub metrics: Metrics,
    pub uptime: Gauge,
    /// Bytes free on the storage's file system, read when metrics are scraped.
    pub storage_free: IntGauge,
    pub started_at: Instant,
    pub jobs: JobSystem,
    pub home_feed: HomeFeed,
    pub rooms: Addr<RoomRegistry>,
    pub room_metrics: RoomMetrics,
    pub ingest: Addr<IngestSupervisor>,
    /// This node's link to the others (local when alone).
    pub bus: Bus,
    /// What this node knows of the others (their rooms' viewers and sources).
    pub view: SharedView,
    pub storage: Storage,
    pub tools: MediaTools,
    pub streams: StreamLimiter,
    pub served: ServedVideos,
    pub files: OpenFiles,
    pub resumable: ResumableUploads,
    /// Flood control for time-anchored danmaku, keyed by user and video.
    pub video_flood: Mutex<VideoFlood>,
    /// Per-client caps: the client's address, hashing, throttles, sockets per address.
    pub limits: Limits,
    /// What publishers are told to use as their server (`rtmp://HOST:PORT/live`); `None`
    /// when the RTMP listener is off.
    pub rtmp_url: Option<String>,
}

impl AppState {
    /// `stream.write_timeout_secs`: how long a media or upload body may stand still.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.stream.write_timeout_secs)
    }
}
