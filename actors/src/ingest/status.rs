//! What a pipeline reports and what can be asked of it, shared with the cluster view and
//! the app: plain data, no actors.

use serde::{Deserialize, Serialize};

/// What an admin can do to a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestAction {
    Start,
    Stop,
    Restart,
}

/// Where a pipeline's run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestState {
    Starting,
    Running,
    Backoff,
    Stopped,
    /// A pushed source with no publisher.
    Waiting,
}

/// A pipeline's state for the API, the admin panel and other nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestStatus {
    /// The node pulling the source.
    pub node: Option<String>,
    pub state: IngestState,
    pub restarts: u64,
    pub last_error: Option<String>,
    pub fps: Option<f32>,
    pub bitrate_kbps: Option<f32>,
    pub speed: Option<f32>,
    pub video_viewers: usize,
    pub transcoding: bool,
    pub on_demand: bool,
    /// The process id of the running ffmpeg, if any.
    #[serde(skip)]
    pub pid: Option<i32>,
    /// A pushed source's publisher (for its owner and admins only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<PublisherInfo>,
}

/// What is known of a publisher, kept current while it pushes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublisherInfo {
    /// When it started publishing, in Unix milliseconds.
    pub since: u64,
    /// Its address (`IP:port`).
    pub remote: String,
    pub video: Option<PublishedVideo>,
    pub audio: Option<PublishedAudio>,
    /// What it sends, measured over the last seconds.
    pub kbps: Option<f32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishedVideo {
    pub codec: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishedAudio {
    pub codec: String,
}
