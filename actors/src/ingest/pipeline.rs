//! `IngestPipeline`: one live source. It owns the source's ffmpeg child (restarting it with
//! the back-off ladder when it exits or stalls), the fMP4 init segment and the fragments
//! since the last keyframe (so a joining viewer starts at once), and the video viewers the
//! fragments go to. `on_demand` sources run only while someone watches.
//!
//! When nodes share a bus, every node has a pipeline per source but only one, the holder of
//! the source's lease, runs ffmpeg. It publishes the init segment and every fragment on
//! `{prefix}.video.{room}` and answers snapshot requests (init segment and fragments since
//! the last keyframe) on `{prefix}.video.{room}.snapshot`. The other nodes' pipelines are
//! followers: while they have video viewers they subscribe, ask for a snapshot so a joiner
//! starts at once, and relay what arrives. A follower becomes the holder (keeping its
//! viewers) when the supervisor wins the lease.

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
use super::gop::GopCache;
use super::rate::ByteRate;
pub use super::status::{IngestAction, IngestState, IngestStatus};
use super::wire::{Packet, PacketBody};
use crate::bus::{Bus, BusMessage, Subscription};
use crate::view::{self, NodeEvent, SharedView};

/// A run with no progress for this long is killed and restarted.
pub const STALL_AFTER: Duration = Duration::from_secs(10);
/// An on-demand source stops this long after its last viewer left.
pub const ON_DEMAND_LINGER: Duration = Duration::from_secs(10);
/// A follower keeps at most this many packets while it waits for a snapshot.
const MAX_PENDING_PACKETS: usize = 64;
/// A follower waits this long for a snapshot before relaying live packets without one.
const SNAPSHOT_WAIT: Duration = Duration::from_millis(2500);
/// Another node's demand for an on-demand source counts for this long.
const DEMAND_FOR: Duration = Duration::from_secs(3);

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

/// What the node's heartbeat says about this pipeline: its local video viewers and, if it
/// pulls the source, its status.
#[derive(Message)]
#[rtype(result = "(usize, Option<IngestStatus>)")]
pub struct GetReport;

/// The pipeline's state for the API and the admin panel.
#[derive(Message)]
#[rtype(result = "IngestStatus")]
pub struct GetIngestStatus;

/// A follower's view of the holder's stream.
#[derive(Default)]
struct Following {
    subscription: Option<Subscription>,
    stream: Option<u64>,
    last_seq: u64,
    /// A keyframe of `stream` has been relayed: fragments can be decoded.
    synced: bool,
    awaiting_snapshot: bool,
    pending: Vec<Packet>,
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
    /// The rate of the fragments this run delivers (ffmpeg cannot tell it for a pipe).
    rate: ByteRate,
    backoff: Backoff,
    retry: Option<SpawnHandle>,
    linger: Option<SpawnHandle>,
    /// The init segment and fragments since the latest keyframe, for joiners.
    cache: GopCache,
    viewers: HashMap<u64, Recipient<VideoFrame>>,
    bus: Bus,
    view: SharedView,
    holder: bool,
    /// This run's stream id and fragment count, for the bus.
    stream: u64,
    fragment_seq: u64,
    snapshot_requests: Option<Subscription>,
    following: Following,
    demanded_until: Option<Instant>,
    /// An admin stopped the source: viewers already watching do not start it again (a new
    /// viewer, here or on another node, does, and `on_wake` hears of it).
    held_off: bool,
    on_wake: Option<Recipient<SourceWoken>>,
    /// Let go by the supervisor: it plays no role any more.
    retired: bool,
}

impl IngestPipeline {
    pub fn new(spec: IngestSpec) -> Self {
        let backoff = Backoff::with_cap(spec.max_backoff);
        let now = Instant::now();
        Self {
            bus: Bus::local("local"),
            view: SharedView::default(),
            holder: true,
            stream: 0,
            fragment_seq: 0,
            snapshot_requests: None,
            following: Following::default(),
            demanded_until: None,
            held_off: false,
            on_wake: None,
            retired: false,
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
            rate: ByteRate::default(),
            backoff,
            retry: None,
            linger: None,
            cache: GopCache::default(),
            viewers: HashMap::new(),
        }
    }

    /// Shares the source with other nodes through `bus`; `holder` says whether this node
    /// pulls it.
    pub fn on_bus(mut self, bus: Bus, view: SharedView, holder: bool) -> Self {
        self.bus = bus;
        self.view = view;
        self.holder = holder;
        if !holder {
            self.wanted = false;
        }
        self
    }

    /// Starts held off: an admin stopped the source, and that was stored.
    pub fn stopped(mut self, stopped: bool) -> Self {
        self.held_off = stopped;
        if stopped {
            self.wanted = false;
        }
        self
    }

    /// Who hears that a new viewer woke the source an admin had stopped.
    pub fn on_wake(mut self, to: Recipient<SourceWoken>) -> Self {
        self.on_wake = Some(to);
        self
    }

    /// A new viewer here or elsewhere: an admin's stop of an on-demand source no longer
    /// holds (a stopped source that is not on demand waits for an admin's start).
    fn wake(&mut self) {
        if self.spec.on_demand && std::mem::take(&mut self.held_off) {
            if let Some(to) = &self.on_wake {
                to.do_send(SourceWoken {
                    room_id: self.spec.room_id.clone(),
                });
            }
        }
    }

    /// Tells the puller of this on-demand source that this node has a new viewer.
    fn ask_for_source(&self) {
        if self.spec.on_demand {
            view::publish(
                &self.bus,
                &NodeEvent::Demand {
                    node: self.bus.node().to_string(),
                    room: self.spec.room_id.clone(),
                },
            );
        }
    }

    fn video_subject(&self) -> String {
        self.bus.subject(&format!("video.{}", self.spec.room_id))
    }

    fn publish_packet(&self, seq: u64, body: PacketBody) {
        if self.bus.is_shared() {
            let packet = Packet {
                stream: self.stream,
                seq,
                body,
            };
            self.bus.publish(self.video_subject(), packet.encode());
        }
    }

    /// Viewers here and elsewhere, plus a recent demand from another node.
    fn demand(&self) -> u64 {
        let remote = view::read(&self.view).remote_video_viewers(&self.spec.room_id);
        let asked = self.demanded_until.is_some_and(|t| t > Instant::now());
        self.viewers.len() as u64 + remote + u64::from(asked)
    }

    /// Starts an on-demand source someone watches; stops it `ON_DEMAND_LINGER` after the
    /// last viewer on any node left.
    fn review_demand(&mut self, ctx: &mut Context<Self>) {
        if !self.spec.on_demand || !self.holder {
            return;
        }
        if self.demand() > 0 {
            if let Some(linger) = self.linger.take() {
                ctx.cancel_future(linger);
            }
            if !self.wanted && !self.held_off {
                log::info!(
                    "room {}: a video viewer came, starting the source",
                    self.spec.room_id
                );
                self.wanted = true;
                self.backoff.reset();
                self.start_run(ctx);
            }
        } else if self.wanted && self.linger.is_none() {
            self.linger = Some(ctx.run_later(ON_DEMAND_LINGER, |act, ctx| {
                act.linger = None;
                if act.demand() == 0 {
                    log::info!(
                        "room {}: no video viewers, stopping the source",
                        act.spec.room_id
                    );
                    act.stop_source(ctx);
                }
            }));
        }
    }

    fn stop_source(&mut self, ctx: &mut Context<Self>) {
        self.wanted = false;
        if let Some(retry) = self.retry.take() {
            ctx.cancel_future(retry);
        }
        self.stop_child();
        if self.child.is_none() {
            self.state = IngestState::Stopped;
        }
    }

    /// A follower with viewers: subscribe to the holder's stream and ask for a snapshot.
    fn follow(&mut self, ctx: &mut Context<Self>) {
        if self.holder || self.following.subscription.is_some() || !self.bus.is_shared() {
            return;
        }
        let to = ctx.address().recipient();
        self.following = Following {
            subscription: self.bus.subscribe(self.video_subject(), to.clone()),
            awaiting_snapshot: true,
            ..Following::default()
        };
        self.bus.request(
            format!("{}.snapshot", self.video_subject()),
            Bytes::new(),
            to,
        );
        self.ask_for_source();
        ctx.run_later(SNAPSHOT_WAIT, |act, _| {
            if act.following.awaiting_snapshot {
                act.following.awaiting_snapshot = false;
                for packet in std::mem::take(&mut act.following.pending) {
                    act.relay(packet);
                }
            }
        });
    }

    fn unfollow(&mut self) {
        self.following = Following::default();
        self.cache.clear();
    }

    /// A follower's packet from the holder.
    fn relay(&mut self, packet: Packet) {
        let f = &mut self.following;
        match packet.body {
            PacketBody::Snapshot { init, gop } => {
                f.awaiting_snapshot = false;
                if f.stream == Some(packet.stream) && f.synced {
                    return;
                }
                f.stream = Some(packet.stream);
                f.last_seq = packet.seq;
                f.synced = !gop.is_empty();
                let pending = std::mem::take(&mut f.pending);
                self.take_init(init);
                for (i, fragment) in gop.into_iter().enumerate() {
                    self.take_fragment(fragment, i == 0, None);
                }
                for p in pending {
                    self.relay(p);
                }
            }
            PacketBody::Init(init) => {
                f.stream = Some(packet.stream);
                f.last_seq = packet.seq;
                f.synced = false;
                self.take_init(init);
            }
            PacketBody::Fragment { bytes, keyframe } => {
                if f.stream != Some(packet.stream) {
                    if f.awaiting_snapshot && f.pending.len() < MAX_PENDING_PACKETS {
                        f.pending.push(Packet {
                            body: PacketBody::Fragment { bytes, keyframe },
                            ..packet
                        });
                    }
                    return;
                }
                if packet.seq <= f.last_seq {
                    return;
                }
                f.last_seq = packet.seq;
                f.synced |= keyframe;
                if f.synced {
                    self.take_fragment(bytes, keyframe, Some(Instant::now()));
                }
            }
        }
    }

    /// A new init segment (a new stream): cached and sent to every viewer.
    fn take_init(&mut self, init: Bytes) {
        self.cache.start_stream(init.clone());
        self.send_to_viewers(VideoFrame {
            bytes: init,
            init: true,
            keyframe: false,
            read_at: None,
        });
    }

    /// A new fragment: kept in the keyframe cache and sent to every viewer.
    fn take_fragment(&mut self, bytes: Bytes, keyframe: bool, read_at: Option<Instant>) {
        self.cache.push(bytes.clone(), keyframe);
        self.send_to_viewers(VideoFrame {
            bytes,
            init: false,
            keyframe,
            read_at,
        });
    }

    /// The holder's answer to a snapshot request: the init segment and the fragments since
    /// the last keyframe, or the init segment alone if they do not fit in one message.
    fn answer_snapshot(&self, reply: String) {
        let Some(init) = self.cache.init() else {
            return;
        };
        let mut packet = Packet {
            stream: self.stream,
            seq: self.fragment_seq,
            body: PacketBody::Snapshot {
                init: init.clone(),
                gop: self.cache.fragments().to_vec(),
            },
        };
        let mut encoded = packet.encode();
        if encoded.len() > self.bus.max_payload() {
            packet.body = PacketBody::Snapshot {
                init: init.clone(),
                gop: Vec::new(),
            };
            encoded = packet.encode();
        }
        self.bus.publish(reply, encoded);
    }

    fn status(&self) -> IngestStatus {
        let remote = view::read(&self.view).remote_video_viewers(&self.spec.room_id);
        IngestStatus {
            node: Some(self.bus.node().to_string()),
            state: self.state,
            restarts: self.restarts,
            last_error: self.last_error.clone(),
            fps: self.progress.map(|p| p.0),
            bitrate_kbps: self
                .rate
                .kbps()
                .or(self.progress.map(|p| p.1).filter(|kbps| *kbps > 0.0)),
            speed: self.progress.map(|p| p.2),
            video_viewers: self.viewers.len() + remote as usize,
            transcoding: self.transcode.video || self.transcode.audio,
            on_demand: self.spec.on_demand,
            pid: self.child.as_ref().map(ChildHandle::pid),
        }
    }

    fn start_run(&mut self, ctx: &mut Context<Self>) {
        if let Some(retry) = self.retry.take() {
            ctx.cancel_future(retry);
        }
        if self.child.is_some() || !self.wanted || !self.holder {
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
        self.rate.clear();
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
            Err(e) => {
                let error = self.redact(&e.to_string());
                self.fail(error, ctx)
            }
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
    /// An ffmpeg line with the source's secrets taken out (only its origin may remain).
    fn redact(&self, line: &str) -> String {
        super::redact::scrub(line, &self.spec.url)
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
        ctx.run_interval(Duration::from_secs(1), |act, ctx| {
            act.check_stall();
            act.review_demand(ctx);
        });
        if self.holder {
            self.hold(ctx);
        }
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
        self.stream = rand_stream_id();
        self.fragment_seq = 0;
        self.publish_packet(0, PacketBody::Init(msg.init.clone()));
        self.take_init(msg.init);
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
            // Video flowed: the next failure starts the ladder from its first step.
            self.backoff.reset();
        }
        self.fragment_seq += 1;
        self.rate.add(msg.read_at, msg.bytes.len());
        self.publish_packet(
            self.fragment_seq,
            PacketBody::Fragment {
                bytes: msg.bytes.clone(),
                keyframe: msg.keyframe,
            },
        );
        self.take_fragment(msg.bytes, msg.keyframe, Some(msg.read_at));
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
        self.rate.clear();
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
        if let Some(init) = self.cache.init() {
            msg.to.do_send(VideoFrame {
                bytes: init.clone(),
                init: true,
                keyframe: false,
                read_at: None,
            });
            for (i, fragment) in self.cache.fragments().iter().enumerate() {
                msg.to.do_send(VideoFrame {
                    bytes: fragment.clone(),
                    init: false,
                    keyframe: i == 0,
                    read_at: None,
                });
            }
        }
        self.viewers.insert(msg.viewer, msg.to);
        if self.holder {
            self.wake();
            self.review_demand(ctx);
        } else if self.following.subscription.is_some() {
            self.ask_for_source();
        } else {
            self.follow(ctx);
        }
    }
}

impl Handler<LeaveVideo> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: LeaveVideo, ctx: &mut Context<Self>) {
        self.viewers.remove(&msg.viewer);
        self.viewers.retain(|_, to| to.connected());
        if self.holder {
            self.review_demand(ctx);
        } else if self.viewers.is_empty() {
            self.unfollow();
        }
    }
}

impl Handler<ControlIngest> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ControlIngest, ctx: &mut Context<Self>) {
        if self.retired {
            return;
        }
        if !self.holder {
            view::publish(
                &self.bus,
                &NodeEvent::IngestControl {
                    node: self.bus.node().to_string(),
                    room: self.spec.room_id.clone(),
                    action: msg.action,
                },
            );
            return;
        }
        self.held_off = msg.action == IngestAction::Stop;
        match msg.action {
            IngestAction::Start => {
                self.wanted = true;
                self.backoff.reset();
                self.start_run(ctx);
            }
            IngestAction::Stop => self.stop_source(ctx),
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
        if self.holder {
            return MessageResult(self.status());
        }
        let reported = view::read(&self.view).ingest(&self.spec.room_id);
        MessageResult(match reported {
            Some((_, status)) => status,
            None => IngestStatus {
                node: None,
                state: IngestState::Starting,
                restarts: 0,
                last_error: Some("waiting for a node to take the source".into()),
                fps: None,
                bitrate_kbps: None,
                speed: None,
                video_viewers: self.viewers.len(),
                transcoding: false,
                on_demand: self.spec.on_demand,
                pid: None,
            },
        })
    }
}

impl IngestPipeline {
    /// Becomes the source's puller: answer snapshots and run ffmpeg if it is wanted.
    fn hold(&mut self, ctx: &mut Context<Self>) {
        self.holder = true;
        self.following = Following::default();
        let subject = format!("{}.snapshot", self.video_subject());
        self.snapshot_requests = self.bus.subscribe(subject, ctx.address().recipient());
        self.wanted = !self.held_off && (!self.spec.on_demand || self.demand() > 0);
        self.backoff.reset();
        self.start_run(ctx);
    }
}

impl Handler<SetRole> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: SetRole, ctx: &mut Context<Self>) {
        if msg.holder == self.holder || self.retired {
            return;
        }
        if msg.holder {
            log::info!("room {}: this node now pulls the source", self.spec.room_id);
            self.held_off = msg.stopped;
            self.hold(ctx);
            return;
        }
        log::info!("room {}: another node pulls the source", self.spec.room_id);
        self.holder = false;
        self.snapshot_requests = None;
        self.wanted = false;
        if let Some(retry) = self.retry.take() {
            ctx.cancel_future(retry);
        }
        if let Some(linger) = self.linger.take() {
            ctx.cancel_future(linger);
        }
        self.stop_child();
        self.state = IngestState::Stopped;
        self.unfollow();
        if !self.viewers.is_empty() {
            self.follow(ctx);
        }
    }
}

impl Handler<Retire> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        self.stop_source(ctx);
        if let Some(linger) = self.linger.take() {
            ctx.cancel_future(linger);
        }
        self.holder = false;
        self.snapshot_requests = None;
        self.following = Following::default();
        self.retired = true;
    }
}

impl Handler<RemoteControl> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: RemoteControl, ctx: &mut Context<Self>) {
        if self.holder {
            self.handle(ControlIngest { action: msg.action }, ctx);
        }
    }
}

impl Handler<Demanded> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, _: Demanded, ctx: &mut Context<Self>) {
        self.demanded_until = Some(Instant::now() + DEMAND_FOR);
        self.wake();
        self.review_demand(ctx);
    }
}

impl Handler<GetReport> for IngestPipeline {
    type Result = MessageResult<GetReport>;

    fn handle(&mut self, _: GetReport, _: &mut Context<Self>) -> Self::Result {
        let status = self.holder.then(|| self.status());
        MessageResult((self.viewers.len(), status))
    }
}

impl Handler<BusMessage> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: BusMessage, _: &mut Context<Self>) {
        if self.retired {
            return;
        }
        if let Some(reply) = msg.reply {
            if self.holder {
                self.answer_snapshot(reply);
            }
            return;
        }
        if self.holder {
            return;
        }
        match Packet::decode(msg.payload) {
            Some(packet) => self.relay(packet),
            None => log::warn!("room {}: unreadable video packet", self.spec.room_id),
        }
    }
}

/// A random id for a new stream.
fn rand_stream_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}
