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
//!
//! The actor wires parts that each stand alone: [`Lifecycle`] (the runs' state machine),
//! [`Fanout`] (viewers and the keyframe cache), [`OnDemand`] (when an on-demand source
//! runs) and [`Follower`](super::follow::Follower) (reading another node's stream).
//! - [`run`]: ffmpeg's reports and admins' controls;
//! - [`push`]: a pushed source's publisher, whose FLV goes to ffmpeg's stdin;
//! - [`cluster`]: the holder and follower roles on the bus.

mod cluster;
mod messages;
mod push;
mod run;

use std::time::{Duration, Instant};

use actix::prelude::*;

pub use self::messages::*;
use super::child::ChildHandle;
use super::command::{IngestSpec, Transcode};
use super::demand::{OnDemand, Verdict};
use super::fanout::Fanout;
pub use super::fanout::VideoFrame;
use super::lifecycle::Lifecycle;
use super::rate::ByteRate;
pub use super::status::{IngestAction, IngestState, IngestStatus};
use crate::bus::{Bus, Subscription};
use crate::view::{self, SharedView};
use cluster::Following;

/// The part this node plays for the source.
enum Role {
    /// Pulls the source; answers other nodes' snapshot requests when the bus is shared.
    Holder { _snapshots: Option<Subscription> },
    /// Another node pulls it; `following` while this node has video viewers.
    Follower { following: Option<Following> },
    /// Let go by the supervisor: it plays no part any more.
    Retired,
}

pub struct IngestPipeline {
    spec: IngestSpec,
    transcode: Transcode,
    life: Lifecycle<ChildHandle>,
    /// ffmpeg's last status line: fps, kbit/s, speed.
    progress: Option<(f32, f32, f32)>,
    /// The rate of the fragments this run delivers (ffmpeg cannot tell it for a pipe).
    rate: ByteRate,
    fanout: Fanout,
    demand: OnDemand,
    /// Who hears that a new viewer woke a source an admin had stopped.
    on_wake: Option<Recipient<SourceWoken>>,
    bus: Bus,
    view: SharedView,
    role: Role,
    /// This run's stream id and fragment count, for the bus.
    stream: u64,
    fragment_seq: u64,
    /// A pushed source's publisher.
    publisher: Option<push::Publisher>,
}

impl IngestPipeline {
    pub fn new(spec: IngestSpec) -> Self {
        let timing = spec.timing;
        Self {
            transcode: Transcode::default(),
            life: Lifecycle::new(super::backoff::Backoff::with_cap(spec.max_backoff)),
            progress: None,
            rate: ByteRate::default(),
            fanout: Fanout::default(),
            demand: OnDemand::new(spec.on_demand, timing.linger, timing.demand_lasts),
            on_wake: None,
            bus: Bus::local("local"),
            view: SharedView::default(),
            role: Role::Holder { _snapshots: None },
            stream: 0,
            fragment_seq: 0,
            publisher: None,
            spec,
        }
    }

    /// Shares the source with other nodes through `bus`; `holder` says whether this node
    /// pulls it.
    pub fn on_bus(mut self, bus: Bus, view: SharedView, holder: bool) -> Self {
        self.bus = bus;
        self.view = view;
        if !holder {
            self.role = Role::Follower { following: None };
        }
        self
    }

    /// Starts held off: an admin stopped the source, and that was stored.
    pub fn stopped(mut self, stopped: bool) -> Self {
        self.demand.hold_off(stopped);
        self
    }

    /// Who hears that a new viewer woke the source an admin had stopped.
    pub fn on_wake(mut self, to: Recipient<SourceWoken>) -> Self {
        self.on_wake = Some(to);
        self
    }

    fn is_holder(&self) -> bool {
        matches!(self.role, Role::Holder { .. })
    }

    /// A new viewer here or elsewhere may lift an admin's stop of an on-demand source.
    fn wake(&mut self) {
        if self.demand.wake() {
            if let Some(to) = &self.on_wake {
                to.do_send(SourceWoken {
                    room_id: self.spec.room_id.clone(),
                });
            }
        }
    }

    /// Video viewers here and on other nodes.
    fn viewers_everywhere(&mut self) -> u64 {
        let remote = view::read(&self.view).remote_video_viewers(&self.spec.room_id);
        self.fanout.viewers() as u64 + remote
    }

    /// Starts an on-demand source someone watches; stops it a linger after the last viewer
    /// on any node left.
    fn review_demand(&mut self, ctx: &mut Context<Self>) {
        if !self.is_holder() {
            return;
        }
        let viewers = self.viewers_everywhere();
        match self
            .demand
            .review(viewers, self.life.is_wanted(), Instant::now())
        {
            Verdict::Start => {
                log::info!(
                    "room {}: a video viewer came, starting the source",
                    self.spec.room_id
                );
                let step = self.life.start();
                self.apply(step, ctx);
            }
            Verdict::Stop => {
                log::info!(
                    "room {}: no video viewers, stopping the source",
                    self.spec.room_id
                );
                self.life.stop();
            }
            Verdict::Keep | Verdict::AskAgainIn(_) => {}
        }
    }

    fn status(&mut self) -> IngestStatus {
        let video_viewers = self.viewers_everywhere() as usize;
        let state = match self.life.state() {
            IngestState::Stopped if self.spec.pushed => IngestState::Waiting,
            state => state,
        };
        IngestStatus {
            node: Some(self.bus.node().to_string()),
            state,
            restarts: self.life.restarts(),
            last_error: self.life.last_error().map(str::to_string),
            fps: self.progress.map(|p| p.0),
            bitrate_kbps: self
                .rate
                .kbps()
                .or(self.progress.map(|p| p.1).filter(|kbps| *kbps > 0.0)),
            speed: self.progress.map(|p| p.2),
            video_viewers,
            transcoding: self.transcode.video || self.transcode.audio,
            on_demand: self.spec.on_demand,
            pid: self.life.child().map(ChildHandle::pid),
            publisher: self.publisher_info(),
        }
    }

    /// How often the pipeline looks for a stalled child and an expired linger.
    fn tick(&self) -> Duration {
        let t = self.spec.timing;
        (t.stall_after.min(t.linger) / 4).clamp(Duration::from_millis(20), Duration::from_secs(1))
    }
}

impl Actor for IngestPipeline {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.tick(), |act, ctx| {
            act.check_stall();
            act.review_demand(ctx);
        });
        if self.is_holder() {
            self.hold(ctx);
        }
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.life.stop();
        Running::Stop
    }
}

impl Handler<JoinVideo> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: JoinVideo, ctx: &mut Context<Self>) {
        self.fanout.join(msg.viewer, msg.to);
        match &self.role {
            Role::Holder { .. } => {
                self.wake();
                self.review_demand(ctx);
            }
            Role::Follower { following: Some(_) } => self.ask_for_source(),
            Role::Follower { following: None } => self.follow(ctx),
            Role::Retired => {}
        }
    }
}

impl Handler<LeaveVideo> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: LeaveVideo, ctx: &mut Context<Self>) {
        self.fanout.leave(msg.viewer);
        if self.is_holder() {
            self.review_demand(ctx);
        } else if self.fanout.viewers() == 0 {
            self.unfollow();
        }
    }
}
