//! `IngestPipeline`: one live source. It owns the source's ffmpeg child (restarting it with
//! the back-off ladder when it exits or stalls), the fMP4 init segment and the fragments
//! since the last keyframe (so a joining viewer starts at once), and the video viewers the
//! fragments go to. `on_demand` sources run only while someone watches.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;

use super::backoff::Backoff;
use super::child::{
    self, ChildHandle, ErrorLogged, FragmentReady, IngestExited, InitReady, InputParsed,
    ProgressReported,
};
use super::command::{IngestSpec, Transcode};

/// A run with no progress for this long is killed and restarted.
pub const STALL_AFTER: Duration = Duration::from_secs(10);
/// An on-demand source stops this long after its last viewer left.
pub const ON_DEMAND_LINGER: Duration = Duration::from_secs(10);
/// Fragments kept since the last keyframe, at most (a source without keyframes must not
/// grow the cache without limit).
const MAX_GOP_FRAGMENTS: usize = 600;

/// One binary frame for video viewers: the init segment or a fragment.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct VideoFrame {
    pub bytes: Bytes,
    /// An init segment (`ftyp` + `moov`); a new one means the stream restarted.
    pub init: bool,
    /// A fragment that starts with a keyframe.
    pub keyframe: bool,
    /// When a live fragment was read off ffmpeg's stdout (`None` for init segments and the
    /// cached fragments a joiner gets), for the delivery-latency histogram.
    pub read_at: Option<Instant>,
}

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

/// What an admin can do to a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestAction {
    Start,
    Stop,
    Restart,
}

/// Starts, stops or restarts the source.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ControlIngest {
    pub action: IngestAction,
}

/// The pipeline's state for the API and the admin panel.
#[derive(Message)]
#[rtype(result = "IngestStatus")]
pub struct GetIngestStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestState {
    Starting,
    Running,
    Backoff,
    Stopped,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestStatus {
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
}

pub struct IngestPipeline {
    spec: IngestSpec,
    transcode: Transcode,
    /// The source should be running (an admin or a viewer wants it).
    wanted: bool,
    state: IngestState,
    run: u64,
    child: Option<ChildHandle>,
    started_at: Instant,
    last_progress: Instant,
    /// The running child is being replaced on purpose: its exit is no failure.
    replacing: bool,
    restarts: u64,
    last_error: Option<String>,
    progress: Option<(f32, f32, f32)>,
    backoff: Backoff,
    retry: Option<SpawnHandle>,
    linger: Option<SpawnHandle>,
    init: Option<Bytes>,
    gop: Vec<Bytes>,
    viewers: HashMap<u64, Recipient<VideoFrame>>,
}

impl IngestPipeline {
    pub fn new(spec: IngestSpec) -> Self {
        let now = Instant::now();
        Self {
            wanted: !spec.on_demand,
            spec,
            transcode: Transcode::default(),
            state: IngestState::Stopped,
            run: 0,
            child: None,
            started_at: now,
            last_progress: now,
            replacing: false,
            restarts: 0,
            last_error: None,
            progress: None,
            backoff: Backoff::default(),
            retry: None,
            linger: None,
            init: None,
            gop: Vec::new(),
            viewers: HashMap::new(),
        }
    }

    fn start_run(&mut self, ctx: &mut Context<Self>) {
        if let Some(retry) = self.retry.take() {
            ctx.cancel_future(retry);
        }
        if self.child.is_some() || !self.wanted {
            return;
        }
        if let Err(e) = std::fs::create_dir_all(&self.spec.hls_dir) {
            self.fail(
                format!("cannot create {}: {e}", self.spec.hls_dir.display()),
                ctx,
            );
            return;
        }
        self.run += 1;
        self.started_at = Instant::now();
        self.last_progress = self.started_at;
        self.progress = None;
        match child::spawn(&self.spec, self.transcode, self.run, ctx.address()) {
            Ok(handle) => {
                log::info!(
                    "room {}: ffmpeg {} pulling {}{}",
                    self.spec.room_id,
                    handle.pid(),
                    self.spec.redacted,
                    if self.transcode.video {
                        " (transcoding)"
                    } else {
                        ""
                    }
                );
                self.child = Some(handle);
                self.state = IngestState::Starting;
            }
            Err(e) => self.fail(e.to_string(), ctx),
        }
    }

    /// The run ended or could not start: wait on the ladder, then try again.
    fn fail(&mut self, error: String, ctx: &mut Context<Self>) {
        let ran_for = match self.state {
            IngestState::Running => self.started_at.elapsed(),
            _ => Duration::ZERO,
        };
        self.restarts += 1;
        let delay = self.backoff.next_delay(ran_for);
        log::warn!(
            "room {}: ingest failed ({error}); restart {} in {delay:?}",
            self.spec.room_id,
            self.restarts
        );
        self.last_error = Some(error);
        self.state = IngestState::Backoff;
        self.retry = Some(ctx.run_later(delay, |act, ctx| {
            act.retry = None;
            act.start_run(ctx);
        }));
    }

    fn stop_child(&mut self) {
        if let Some(child) = &self.child {
            child.kill();
        }
    }

    fn send_to_viewers(&mut self, frame: VideoFrame) {
        self.viewers.retain(|_, to| to.connected());
        for to in self.viewers.values() {
            to.do_send(frame.clone());
        }
    }

    /// Hides the URL (it may hold credentials) in ffmpeg's messages.
    fn redact(&self, line: &str) -> String {
        line.replace(&self.spec.url, &self.spec.redacted)
    }

    fn check_stall(&mut self) {
        if self.child.is_some() && self.last_progress.elapsed() > STALL_AFTER {
            log::warn!(
                "room {}: no progress for {STALL_AFTER:?}, killing ffmpeg",
                self.spec.room_id
            );
            self.last_error = Some(format!("no progress for {} s", STALL_AFTER.as_secs()));
            self.stop_child();
            // The exit report restarts it.
            self.last_progress = Instant::now();
        }
    }
}

impl Actor for IngestPipeline {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(1), |act, _| act.check_stall());
        self.start_run(ctx);
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.wanted = false;
        self.stop_child();
        Running::Stop
    }
}

impl Handler<InitReady> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: InitReady, _: &mut Context<Self>) {
        if msg.run != self.run {
            return;
        }
        self.gop.clear();
        self.init = Some(msg.init.clone());
        self.send_to_viewers(VideoFrame {
            bytes: msg.init,
            init: true,
            keyframe: false,
            read_at: None,
        });
    }
}

impl Handler<FragmentReady> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: FragmentReady, _: &mut Context<Self>) {
        if msg.run != self.run {
            return;
        }
        self.last_progress = Instant::now();
        if self.state == IngestState::Starting {
            log::info!("room {}: live", self.spec.room_id);
            self.state = IngestState::Running;
        }
        if msg.keyframe || self.gop.len() >= MAX_GOP_FRAGMENTS {
            self.gop.clear();
        }
        if msg.keyframe || !self.gop.is_empty() {
            self.gop.push(msg.bytes.clone());
        }
        self.send_to_viewers(VideoFrame {
            bytes: msg.bytes,
            init: false,
            keyframe: msg.keyframe,
            read_at: Some(msg.read_at),
        });
    }
}

impl Handler<ProgressReported> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ProgressReported, _: &mut Context<Self>) {
        // Only fragments count against a stall: a status line alone does not feed viewers.
        if msg.run == self.run {
            self.progress = Some((msg.fps, msg.bitrate_kbps, msg.speed));
        }
    }
}

impl Handler<InputParsed> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: InputParsed, _: &mut Context<Self>) {
        if msg.run != self.run {
            return;
        }
        let wanted = Transcode {
            video: msg.video.as_deref().is_some_and(|c| c != "h264"),
            audio: msg.audio.as_deref().is_some_and(|c| c != "aac"),
        };
        if wanted != self.transcode && (wanted.video || wanted.audio) {
            log::info!(
                "room {}: source is {} / {}: transcoding",
                self.spec.room_id,
                msg.video.as_deref().unwrap_or("no video"),
                msg.audio.as_deref().unwrap_or("no audio")
            );
            self.transcode = wanted;
            self.replacing = true;
            self.stop_child();
        }
    }
}

impl Handler<ErrorLogged> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ErrorLogged, _: &mut Context<Self>) {
        if msg.run == self.run {
            let line = self.redact(msg.line.trim());
            log::debug!("room {}: ffmpeg: {line}", self.spec.room_id);
            self.last_error = Some(line);
        }
    }
}

impl Handler<IngestExited> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: IngestExited, ctx: &mut Context<Self>) {
        if msg.run != self.run {
            return;
        }
        self.child = None;
        self.progress = None;
        if !self.wanted {
            log::info!("room {}: ffmpeg stopped", self.spec.room_id);
            self.state = IngestState::Stopped;
            return;
        }
        if std::mem::take(&mut self.replacing) {
            self.state = IngestState::Starting;
            self.start_run(ctx);
            return;
        }
        let error = self
            .last_error
            .clone()
            .unwrap_or_else(|| format!("ffmpeg exited ({})", msg.status));
        self.fail(error, ctx);
    }
}

impl Handler<JoinVideo> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: JoinVideo, ctx: &mut Context<Self>) {
        if let Some(linger) = self.linger.take() {
            ctx.cancel_future(linger);
        }
        if let Some(init) = &self.init {
            msg.to.do_send(VideoFrame {
                bytes: init.clone(),
                init: true,
                keyframe: false,
                read_at: None,
            });
            for (i, fragment) in self.gop.iter().enumerate() {
                msg.to.do_send(VideoFrame {
                    bytes: fragment.clone(),
                    init: false,
                    keyframe: i == 0,
                    read_at: None,
                });
            }
        }
        self.viewers.insert(msg.viewer, msg.to);
        if self.spec.on_demand && !self.wanted {
            log::info!(
                "room {}: first video viewer, starting the source",
                self.spec.room_id
            );
            self.wanted = true;
            self.backoff.reset();
            self.start_run(ctx);
        }
    }
}

impl Handler<LeaveVideo> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: LeaveVideo, ctx: &mut Context<Self>) {
        self.viewers.remove(&msg.viewer);
        self.viewers.retain(|_, to| to.connected());
        if self.spec.on_demand && self.viewers.is_empty() && self.linger.is_none() {
            self.linger = Some(ctx.run_later(ON_DEMAND_LINGER, |act, ctx| {
                act.linger = None;
                if act.viewers.is_empty() {
                    log::info!(
                        "room {}: no video viewers, stopping the source",
                        act.spec.room_id
                    );
                    act.handle(
                        ControlIngest {
                            action: IngestAction::Stop,
                        },
                        ctx,
                    );
                }
            }));
        }
    }
}

impl Handler<ControlIngest> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ControlIngest, ctx: &mut Context<Self>) {
        match msg.action {
            IngestAction::Start => {
                self.wanted = true;
                self.backoff.reset();
                self.start_run(ctx);
            }
            IngestAction::Stop => {
                self.wanted = false;
                if let Some(retry) = self.retry.take() {
                    ctx.cancel_future(retry);
                }
                self.stop_child();
                if self.child.is_none() {
                    self.state = IngestState::Stopped;
                }
            }
            IngestAction::Restart => {
                self.wanted = true;
                self.backoff.reset();
                if self.child.is_some() {
                    self.replacing = true;
                    self.stop_child();
                } else {
                    self.start_run(ctx);
                }
            }
        }
    }
}

impl Handler<GetIngestStatus> for IngestPipeline {
    type Result = MessageResult<GetIngestStatus>;

    fn handle(&mut self, _: GetIngestStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(IngestStatus {
            state: self.state,
            restarts: self.restarts,
            last_error: self.last_error.clone(),
            fps: self.progress.map(|p| p.0),
            bitrate_kbps: self.progress.map(|p| p.1),
            speed: self.progress.map(|p| p.2),
            video_viewers: self.viewers.len(),
            transcoding: self.transcode.video || self.transcode.audio,
            on_demand: self.spec.on_demand,
            pid: self.child.as_ref().map(ChildHandle::pid),
        })
    }
}
